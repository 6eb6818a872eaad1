/**
 * Three replicas of an operator in one process compete for one lock; the leader goes away and the next one takes
 * over. Prints a timeline in milliseconds. The Effect 4 edition of examples/demo.ts.
 *
 *   npm run demo:effect4                              # leader for life on a ConfigMap, in-memory cluster
 *   npm run demo:effect4 -- --lock leaderlock         # ... on a LeaderLock custom resource
 *   npm run demo:effect4 -- --lock lease              # a client-go compatible Lease
 *   npm run demo:effect4 -- --kubeconfig ~/.kube/config --namespace default   # a real cluster (or KUBECONFIG=...)
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { Effect, Fiber, Layer, Queue, References } from "effect"
import { parseArgs } from "node:util"
import {
  ConfigMaps,
  ContextInfo,
  InMemoryCluster,
  K8sClient,
  type KubeConfigError,
  LeaderElection,
  LeaderLocks,
  Leases,
  Pods
} from "../../src/effect4/index.js"
import { isLockKind, lockLayer } from "./cluster.js"

const { values: flags } = parseArgs({
  options: {
    lock: { type: "string", default: "configmap" },
    kubeconfig: { type: "string" },
    namespace: { type: "string", default: "default" },
    verbose: { type: "boolean", default: false }
  }
})
const lockKind = flags.lock
if (!isLockKind(lockKind)) {
  console.error(`--lock must be configmap, leaderlock or lease, not "${lockKind}"`)
  process.exit(2)
}
const kubeconfig = flags.kubeconfig ?? process.env["KUBECONFIG"]
const namespace = flags.namespace
const lockName = `demo-${lockKind}-lock`
const replicas = ["replica-1", "replica-2", "replica-3"]

const started = performance.now()
const line = (who: string, what: string) =>
  Effect.sync(() =>
    console.log(`${(performance.now() - started).toFixed(1).padStart(9)} ms  ${who.padEnd(10)} ${what}`)
  )

const client = kubeconfig === undefined ? undefined : K8sClient.fromFile(kubeconfig)
const resources: Layer.Layer<Pods | ConfigMaps | Leases | LeaderLocks, KubeConfigError> = client === undefined
  ? InMemoryCluster.layer
  : Layer.mergeAll(Pods.live, ConfigMaps.live, Leases.live, LeaderLocks.live).pipe(Layer.provide(client))

const electionFor = (podName: string) => {
  return lockLayer(lockKind, lockName).pipe(Layer.provide(ContextInfo.test({ namespace, podName })))
}

const program = Effect.gen(function*() {
  const pods = yield* Pods
  yield* line(
    "demo",
    `${replicas.length} replicas, lock: ${lockKind} "${lockName}" in namespace "${namespace}", ${
      kubeconfig === undefined ? "in-memory cluster" : `cluster from ${kubeconfig}`
    }`
  )
  if (lockKind === "leaderlock" && client !== undefined) {
    yield* LeaderLocks.ensureDefinition.pipe(Effect.provide(client))
  }
  if (lockKind !== "lease") {
    for (const name of replicas) {
      yield* pods.create({
        metadata: { name, namespace },
        spec: { containers: [{ name: "operator", image: "registry.k8s.io/pause:3.10" }] }
      })
    }
    yield* line("demo", `created Pods ${replicas.join(", ")}`)
  }

  const leaders = yield* Queue.unbounded<string>()
  const candidates = new Map<string, Fiber.Fiber<unknown, unknown>>()
  for (const name of replicas) {
    const work = Effect.gen(function*() {
      yield* line(name, "LEADS: starts its work")
      yield* Queue.offer(leaders, name)
      return yield* Effect.never
    }).pipe(Effect.onInterrupt(() => line(name, "stops its work")))
    const fiber = yield* line(name, "joins the election").pipe(
      Effect.andThen(LeaderElection.runAsLeader(work)),
      Effect.provide(electionFor(name)),
      Effect.forkChild
    )
    candidates.set(name, fiber)
  }

  const first = yield* Queue.take(leaders)
  yield* Effect.sleep("500 millis")
  yield* line("demo", `the others wait; now ${first} goes away`)
  const goneAt = performance.now()
  if (lockKind === "lease") {
    // A clean shutdown: the scope closes, the Lease's holder is cleared, a follower sees it on its watch.
    yield* Fiber.interrupt(candidates.get(first)!)
    yield* line("demo", `${first} shut down and released the Lease`)
  } else {
    // The Pod is deleted, as when its node dies: the garbage collector removes the lock the Pod owns, a standby
    // sees that on its watch and leads; the old leader, should it still run, sees it too and stops at once.
    yield* pods.delete(first, namespace)
    yield* line("demo", `deleted Pod ${first}; the garbage collector removes the lock it owns`)
  }
  const next = yield* Queue.take(leaders)
  yield* line("demo", `takeover by ${next} ${(performance.now() - goneAt).toFixed(1)} ms after ${first} went away`)

  for (const fiber of candidates.values()) yield* Fiber.interrupt(fiber)
  if (lockKind !== "lease") {
    for (const name of replicas.filter((name) => name !== first)) {
      yield* pods.delete(name, namespace).pipe(Effect.ignore)
    }
  }
  yield* line("demo", "done")
}).pipe(Effect.provide(resources))

program.pipe(
  Effect.provideService(References.MinimumLogLevel, flags.verbose ? "Debug" : "Warn"),
  NodeRuntime.runMain
)
