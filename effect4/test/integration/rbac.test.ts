/** The shipped least-privilege Roles of deploy/rbac/ on a real API server, Effect 4 edition. */
import { Effect, Exit, Layer, Logger, Option } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import {
  ConfigMaps,
  ContextInfo,
  K8sClient,
  K8sError,
  LeaderElection,
  type LeaderElectionConfigError,
  LeaderLocks,
  Leases,
  Pods
} from "../../../src/effect4/index.js"
import type { ControlPlane } from "../../../testkit/controlPlane.js"
import { applyYaml, createPod, eventually, liveLayer, run, startCluster, unique, yamlDocuments } from "./harness.js"

let cluster: ControlPlane

beforeAll(async () => {
  cluster = await startCluster()
  // Registers the CRD, missing on a new cluster, and waits until it is served.
  await run(cluster.adminKubeconfig, LeaderLocks.ensureDefinition)
})
afterAll(async () => {
  await cluster?.stop({ clean: true })
})

interface Rule {
  readonly apiGroups: ReadonlyArray<string>
  readonly resources: ReadonlyArray<string>
  readonly verbs: ReadonlyArray<string>
}

/** The Role of deploy/rbac/<kind>-lock.yaml, exactly as shipped. */
const shippedRules = (kind: string): ReadonlyArray<Rule> =>
  yamlDocuments(`deploy/rbac/${kind}-lock.yaml`).find((doc) => doc.kind === "Role").rules

const without = (rules: ReadonlyArray<Rule>, resource: string, verb: string): ReadonlyArray<Rule> =>
  rules.map((rule) =>
    rule.resources.includes(resource) ? { ...rule, verbs: rule.verbs.filter((v) => v !== verb) } : rule
  )

/**
 * A namespace of its own with the Role bound to the unprivileged token user `user`, waiting until the
 * authorizer has seen the binding.
 */
const grant = (user: string, rules: ReadonlyArray<Rule>) =>
  Effect.gen(function*() {
    const namespace = unique("rbac")
    const client = yield* K8sClient
    yield* client.request({
      method: "POST",
      path: "/api/v1/namespaces",
      body: { apiVersion: "v1", kind: "Namespace", metadata: { name: namespace } },
      info: { verb: "create", resource: "namespaces", name: namespace }
    })
    yield* applyYaml("deploy/rbac/lease-lock.yaml", namespace, (doc) =>
      doc.kind === "Role"
        ? { ...doc, metadata: { name: "under-test" }, rules }
        : doc.kind === "RoleBinding"
        ? {
          ...doc,
          metadata: { name: "under-test" },
          subjects: [{ kind: "User", name: user, apiGroup: "rbac.authorization.k8s.io" }],
          roleRef: { ...doc.roleRef, name: "under-test" }
        }
        : doc)
    return namespace
  })

/** Asks the API server, as `kubeconfig`'s user, whether it may `verb` `resource` yet (bindings propagate). */
const awaitAllowed = (kubeconfig: string, namespace: string, rule: Rule) =>
  eventually(
    Effect.gen(function*() {
      const client = yield* K8sClient
      const review: any = yield* client.request({
        method: "POST",
        path: "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
        body: {
          apiVersion: "authorization.k8s.io/v1",
          kind: "SelfSubjectAccessReview",
          spec: {
            resourceAttributes: {
              namespace,
              verb: rule.verbs[0],
              group: rule.apiGroups[0],
              resource: rule.resources[0]
            }
          }
        },
        info: { verb: "create", resource: "selfsubjectaccessreviews" }
      })
      if (review.status?.allowed !== true) return yield* Effect.fail("not yet")
    }).pipe(Effect.provide(K8sClient.fromFile(kubeconfig))),
    "10 seconds"
  )

type Lock = Layer.Layer<
  LeaderElection,
  LeaderElectionConfigError,
  ContextInfo | Pods | ConfigMaps | LeaderLocks | Leases
>

const locks: Record<string, { readonly make: (name: string) => Lock; readonly resource: string }> = {
  configmap: { make: (name) => LeaderElection.configMapLock(name), resource: "configmaps" },
  leaderlock: { make: (name) => LeaderElection.customLeaderLock(name), resource: "leaderlocks" },
  lease: {
    make: (name) =>
      LeaderElection.leaseLock(name, {
        leaseDuration: "2 seconds",
        renewDeadline: "1500 millis",
        retryPeriod: "500 millis"
      }),
    resource: "leases"
  }
}

/** A case: what to set up as admin first, and which verb on which resource removed. */
interface Case {
  readonly lock: keyof typeof locks
  readonly user: string
  readonly remove?: { readonly resource: string; readonly verb: string }
  /** The lock is held by another live Pod: the candidate has to wait (and watch that Pod). */
  readonly held?: boolean
  /** A Lease with no holder exists: the candidate updates it rather than creating it. */
  readonly freeLease?: boolean
}

const resourceName = (resource: string) =>
  resource === "leaderlocks"
    ? "leaderlocks.effect-k8s-leader.io"
    : resource === "leases"
    ? "leases.coordination.k8s.io"
    : resource

/** A log line's message: Effect 4 hands a logger every argument of `Effect.log` as an array. */
const logLine = (message: unknown) =>
  Array.isArray(message) ? message.map((part) => String(part)).join(" ") : String(message)

const runCase = async (testCase: Case, logs: Array<string> = []) => {
  const admin = cluster.adminKubeconfig
  const userConfig = cluster.kubeconfigFor(testCase.user)
  const rules = testCase.remove === undefined
    ? shippedRules(testCase.lock)
    : without(shippedRules(testCase.lock), testCase.remove.resource, testCase.remove.verb)
  const lockName = unique("lock")
  const namespace = await run(admin, grant(testCase.user, rules))
  await run(admin, awaitAllowed(userConfig, namespace, rules.find((rule) => rule.verbs.length > 0)!))

  const podName = unique("candidate")
  await run(
    admin,
    Effect.gen(function*() {
      if (testCase.lock !== "lease") yield* createPod(podName, namespace)
      if (testCase.held) {
        const holder = yield* createPod(unique("holder"), namespace)
        const ownerReferences = [{
          apiVersion: "v1",
          kind: "Pod",
          name: holder.metadata.name,
          uid: holder.metadata.uid!
        }]
        if (testCase.lock === "configmap") {
          yield* Effect.flatMap(
            ConfigMaps,
            (s) => s.create({ metadata: { name: lockName, namespace, ownerReferences } })
          )
        } else {
          yield* Effect.flatMap(LeaderLocks, (s) =>
            s.create({
              apiVersion: "effect-k8s-leader.io/v1",
              kind: "LeaderLock",
              metadata: { name: lockName, namespace, ownerReferences }
            }))
        }
      }
      if (testCase.freeLease) {
        yield* Effect.flatMap(Leases, (s) => s.create({ metadata: { name: lockName, namespace }, spec: {} }))
      }
    })
  )

  const election = locks[testCase.lock]!.make(lockName).pipe(
    Layer.provide(Layer.merge(liveLayer(userConfig), ContextInfo.test({ namespace, podName })))
  )
  // Long enough that a verb used only while leading (the watch on its own lock) is exercised.
  return Effect.runPromiseExit(
    LeaderElection.runAsLeader(Effect.sleep("2 seconds").pipe(Effect.as("led"))).pipe(
      Effect.provide(election),
      Effect.timeout("20 seconds"),
      Effect.provide(Logger.layer([Logger.make(({ message }) => logs.push(logLine(message)))]))
    )
  )
}

describe("least-privilege RBAC from deploy/rbac/", () => {
  it.each(["configmap", "leaderlock", "lease"] as const)("the shipped %s Role is enough", async (lock) => {
    const exit = await runCase({ lock, user: "user-1" })
    expect(exit).toEqual(Exit.succeed(Option.some("led")))
  })

  const removals: ReadonlyArray<Case & { readonly remove: { resource: string; verb: string } }> = [
    { lock: "configmap", user: "user-2", remove: { resource: "pods", verb: "get" } },
    { lock: "configmap", user: "user-2", remove: { resource: "pods", verb: "watch" }, held: true },
    { lock: "configmap", user: "user-2", remove: { resource: "configmaps", verb: "create" } },
    { lock: "configmap", user: "user-2", remove: { resource: "configmaps", verb: "get" } },
    { lock: "configmap", user: "user-2", remove: { resource: "configmaps", verb: "watch" } },
    { lock: "leaderlock", user: "user-3", remove: { resource: "pods", verb: "get" } },
    { lock: "leaderlock", user: "user-3", remove: { resource: "leaderlocks", verb: "create" } },
    { lock: "leaderlock", user: "user-3", remove: { resource: "leaderlocks", verb: "get" } },
    { lock: "leaderlock", user: "user-3", remove: { resource: "leaderlocks", verb: "watch" } },
    { lock: "lease", user: "user-4", remove: { resource: "leases", verb: "get" } },
    { lock: "lease", user: "user-4", remove: { resource: "leases", verb: "watch" } },
    { lock: "lease", user: "user-4", remove: { resource: "leases", verb: "create" } },
    { lock: "lease", user: "user-4", remove: { resource: "leases", verb: "update" }, freeLease: true }
  ]

  it.each(removals)(
    "$lock lock without $remove.verb on $remove.resource: a Forbidden K8sError naming both",
    async (testCase) => {
      const exit = await runCase(testCase)
      expect(Exit.isFailure(exit)).toBe(true)
      // One failure, nothing else in the cause (Effect 3: a cause of tag "Fail").
      const reasons = Exit.isFailure(exit) ? exit.cause.reasons : []
      const error = reasons.length === 1 && reasons[0]!._tag === "Fail" ? reasons[0]!.error : undefined
      expect(error).toBeInstanceOf(K8sError)
      const k8sError = error as K8sError
      expect(k8sError.reason).toBe("Forbidden")
      expect(k8sError.verb).toBe(testCase.remove.verb)
      expect(k8sError.resource).toBe(resourceName(testCase.remove.resource))
      expect(k8sError.message).toContain(`"${testCase.remove.verb}"`)
      expect(k8sError.message).toContain(resourceName(testCase.remove.resource))
    }
  )

  it.each(
    [
      { lock: "configmap", resource: "configmaps", user: "user-5" },
      { lock: "leaderlock", resource: "leaderlocks", user: "user-6" }
    ] as const
  )("$lock lock without delete: the release's Forbidden is logged naming both; the result stands", async ({
    lock,
    resource,
    user
  }) => {
    const logs: Array<string> = []
    const exit = await runCase({ lock, user, remove: { resource, verb: "delete" } }, logs)
    expect(exit).toEqual(Exit.succeed(Option.some("led")))
    expect(logs.some((line) => line.includes(`Forbidden: delete ${resourceName(resource)}`))).toBe(true)
  })

  it("configmap lock without update: the release cannot mark the lock released, logs it, and deletes it all the same", async () => {
    const logs: Array<string> = []
    const exit = await runCase({
      lock: "configmap",
      user: "user-2",
      remove: { resource: "configmaps", verb: "update" }
    }, logs)
    expect(exit).toEqual(Exit.succeed(Option.some("led")))
    expect(logs.some((line) => line.includes("Forbidden: update configmaps"))).toBe(true)
    expect(logs.some((line) => line === "released")).toBe(true)
  })
})
