import { FileSystem } from "@effect/platform"
import { describe, expect, it } from "@effect/vitest"
import {
  Chunk,
  ConfigProvider,
  Context,
  Deferred,
  Effect,
  Exit,
  Fiber,
  Layer,
  Option,
  Random,
  Schedule,
  Scope,
  Stream,
  TestClock
} from "effect"
import {
  ConfigMaps,
  ContextInfo,
  ContextInfoError,
  fromResponse,
  InMemoryCluster,
  type InMemoryRequest,
  K8sError,
  type KubernetesObject,
  LeaderElection,
  type LeaderForLifeOptions,
  LeaderLocks,
  LockUnavailableError,
  type Pod,
  Pods,
  type ResourceService
} from "../src/index.js"

const ns = "ops"
const lockName = "my-operator-lock"

interface LockKind {
  readonly name: string
  /** The resource as RBAC and error messages name it. */
  readonly resource: string
  readonly layer: (
    name: string,
    options?: LeaderForLifeOptions
  ) => Layer.Layer<LeaderElection, never, ContextInfo | Pods | ConfigMaps | LeaderLocks>
  readonly service: Effect.Effect<ResourceService<KubernetesObject>, never, ConfigMaps | LeaderLocks>
}

const kinds: ReadonlyArray<LockKind> = [
  {
    name: "configMapLock",
    resource: "configmaps",
    layer: LeaderElection.configMapLock,
    service: ConfigMaps as Effect.Effect<ResourceService<KubernetesObject>, never, ConfigMaps>
  },
  {
    name: "customLeaderLock",
    resource: "leaderlocks.effect-k8s-leader.io",
    layer: LeaderElection.customLeaderLock,
    service: LeaderLocks as Effect.Effect<ResourceService<KubernetesObject>, never, LeaderLocks>
  }
]

type Env = InMemoryCluster | Pods | ConfigMaps | LeaderLocks

/** Yields to the other fibers; the TestClock does not move. */
const settle = Effect.repeatN(Effect.yieldNow(), 100)

/** Yields until `done` holds, without touching the clock; fails the test when it never does. */
const eventually = (what: string, done: Effect.Effect<boolean, never, any>, maxYields = 2000) =>
  Effect.gen(function*() {
    for (let i = 0; i < maxYields; i++) {
      if (yield* done) return
      yield* Effect.yieldNow()
    }
    return yield* Effect.dieMessage(`never happened (the clock did not move): ${what}`)
  })

const isDone = <A, E>(fiber: Fiber.Fiber<A, E>) => Effect.map(Fiber.poll(fiber), Option.isSome)

const leaderForLifeSuite = (kind: LockKind) =>
  describe(kind.name, () => {
    const test = (name: string, body: () => Effect.Effect<void, unknown, Env | Scope.Scope>) =>
      // A seeded Random: the schedules' jitter is the same on every run.
      it.scoped(name, () => Effect.provide(body(), InMemoryCluster.layer).pipe(Effect.withRandom(Random.make(name))))

    const lockService = kind.service

    const addPod = (name: string, status?: Pod["status"]) =>
      Effect.flatMap(Pods, (pods) =>
        pods.create(
          status === undefined ? { metadata: { name, namespace: ns } } : {
            metadata: { name, namespace: ns },
            status
          }
        ))

    /** The election service of the replica whose Pod is `podName`. */
    const replica = (podName: string, options?: LeaderForLifeOptions, lock = lockName) =>
      // Built in the test's scope: the service's watch lives as long as its layer.
      Effect.map(
        Layer.build(kind.layer(lock, options).pipe(Layer.provide(ContextInfo.test({ namespace: ns, podName })))),
        Context.get(LeaderElection)
      )

    const currentLock = Effect.flatMap(lockService, (locks) =>
      locks.get(lockName, ns).pipe(
        Effect.map(Option.some),
        Effect.catchIf((error) => error.reason === "NotFound", () => Effect.succeed(Option.none<KubernetesObject>()))
      ))

    const lockOwner = Effect.map(currentLock, Option.map((lock) => lock.metadata.ownerReferences?.[0]?.name))

    const ownerRef = (pod: Pod, name = pod.metadata.name) => ({
      apiVersion: "v1",
      kind: "Pod",
      name,
      uid: pod.metadata.uid!
    })

    /** Creates the lock directly, owned by `pod`. */
    const createLockOwnedBy = (pod: Pod, name = pod.metadata.name) =>
      Effect.flatMap(lockService, (locks) =>
        locks.create({ metadata: { name: lockName, namespace: ns, ownerReferences: [ownerRef(pod, name)] } }))

    /** Records every request from now on; `fail` may answer some of them with an error instead. */
    const recordRequests = (fail?: (request: InMemoryRequest) => K8sError | undefined) =>
      Effect.gen(function*() {
        const cluster = yield* InMemoryCluster
        const log: Array<InMemoryRequest & { readonly at: number }> = []
        yield* cluster.setInterceptor((request, proceed) =>
          Effect.flatMap(TestClock.currentTimeMillis, (at) => {
            log.push({ ...request, at })
            const error = fail?.(request)
            return error === undefined ? proceed : Effect.fail(error)
          })
        )
        return {
          log,
          count: (verb: InMemoryRequest["verb"], resource = kind.resource) =>
            log.filter((request) =>
              request.verb === verb && request.resource === resource
            ).length
        }
      })

    /** Forks a replica that leads until `stop` completes; `led` completes when it starts leading. */
    const forkLeader = (podName: string, options?: LeaderForLifeOptions) =>
      Effect.gen(function*() {
        const election = yield* replica(podName, options)
        const led = yield* Deferred.make<void>()
        const stop = yield* Deferred.make<void>()
        const fiber = yield* election.runAsLeader(
          Effect.zipRight(Deferred.succeed(led, undefined), Deferred.await(stop))
        ).pipe(Effect.fork)
        return { fiber, led, stop, leads: Deferred.isDone(led) }
      })

    test("a sole candidate leads, runs the effect, gets Some(result) and deletes the lock", () =>
      Effect.gen(function*() {
        const pod = yield* addPod("op-0")
        const election = yield* replica("op-0")
        const result = yield* election.runAsLeader(Effect.gen(function*() {
          const lock = yield* currentLock
          expect(Option.isSome(lock)).toBe(true)
          const value = Option.getOrThrow(lock)
          expect(value.metadata.ownerReferences).toEqual([{
            apiVersion: "v1",
            kind: "Pod",
            name: "op-0",
            uid: pod.metadata.uid
          }])
          return 42
        }))
        expect(result).toEqual(Option.some(42))
        expect(yield* currentLock).toEqual(Option.none())
      }))

    test("the lock object is of the lock's kind", () =>
      Effect.gen(function*() {
        yield* addPod("op-0")
        const kindSeen = yield* (yield* replica("op-0")).runAsLeader(
          Effect.map(currentLock, Option.map((lock) => lock.kind))
        )
        expect(kindSeen).toEqual(Option.some(Option.some(kind.name === "configMapLock" ? "ConfigMap" : "LeaderLock")))
      }))

    test("re-entrance: a lock already owned by our Pod's uid is ours at once", () =>
      Effect.gen(function*() {
        const pod = yield* addPod("op-0")
        const existing = yield* createLockOwnedBy(pod)
        const requests = yield* recordRequests()
        const result = yield* (yield* replica("op-0")).runAsLeader(
          Effect.map(currentLock, Option.map((lock) => lock.metadata.uid))
        )
        // Same lock object, no clock advance needed, and it is released afterwards.
        expect(result).toEqual(Option.some(Option.some(existing.metadata.uid)))
        expect(requests.count("create")).toBe(1)
        expect(yield* currentLock).toEqual(Option.none())
      }))

    test("a second candidate waits while the leader lives, however long", () =>
      Effect.gen(function*() {
        yield* addPod("op-0")
        yield* addPod("op-1")
        const first = yield* forkLeader("op-0")
        yield* eventually("op-0 leads", first.leads)
        const second = yield* forkLeader("op-1")
        yield* settle
        for (let i = 0; i < 6; i++) {
          yield* TestClock.adjust("10 minutes")
          expect(yield* second.leads).toBe(false)
          expect(yield* lockOwner).toEqual(Option.some("op-0"))
        }
        expect(yield* isDone(second.fiber)).toBe(false)
        expect(yield* isDone(first.fiber)).toBe(false)
      }))

    test("a waiting candidate polls at most on the backoff schedule (no tight loop)", () =>
      Effect.gen(function*() {
        yield* addPod("op-0")
        yield* addPod("op-1")
        const first = yield* forkLeader("op-0")
        yield* eventually("op-0 leads", first.leads)
        const requests = yield* recordRequests()
        yield* forkLeader("op-1")
        yield* settle
        expect(requests.count("create")).toBe(1)
        // 1, 2, 4, 8, 16 s, then 30 s, each jittered by 0.8 to 1.2: between 1 + 5 + (600 - 37.2) / 36 and
        // 1 + 5 + (600 - 24.8) / 24 attempts in 10 minutes.
        yield* TestClock.adjust("10 minutes")
        expect(requests.count("create")).toBeGreaterThanOrEqual(1 + 5 + Math.floor((600 - 37.2) / 36))
        expect(requests.count("create")).toBeLessThanOrEqual(1 + 5 + Math.ceil((600 - 24.8) / 24))
      }))

    test("graceful handover: when the leader releases, the standby leads at once (watch, not the backoff)", () =>
      Effect.gen(function*() {
        yield* addPod("op-0")
        yield* addPod("op-1")
        const first = yield* forkLeader("op-0")
        yield* eventually("op-0 leads", first.leads)
        const second = yield* forkLeader("op-1")
        yield* settle
        yield* TestClock.adjust("5 minutes") // the backoff is now long
        expect(yield* second.leads).toBe(false)
        yield* Deferred.succeed(first.stop, undefined)
        expect(yield* Fiber.join(first.fiber)).toEqual(Option.some(undefined))
        yield* eventually("op-1 leads after the release", second.leads)
        expect(yield* lockOwner).toEqual(Option.some("op-1"))
      }))

    test("leader Pod deleted: the garbage collector frees the lock and the standby takes over without the backoff", () =>
      Effect.gen(function*() {
        yield* addPod("op-0")
        yield* addPod("op-1")
        const first = yield* forkLeader("op-0")
        yield* eventually("op-0 leads", first.leads)
        const second = yield* forkLeader("op-1")
        yield* settle
        yield* TestClock.adjust("3 minutes")
        expect(yield* second.leads).toBe(false)

        yield* (yield* Pods).delete("op-0", ns)
        yield* eventually("op-1 leads after the GC", second.leads)
        expect(yield* lockOwner).toEqual(Option.some("op-1"))
        // The old leader saw its lock go: it stops (None) and does not delete the new leader's lock.
        yield* eventually("op-0 stops", isDone(first.fiber))
        expect(yield* Fiber.join(first.fiber)).toEqual(Option.none())
        yield* settle
        expect(yield* lockOwner).toEqual(Option.some("op-1"))
      }))

    for (const status of [{ phase: "Failed" }, { phase: "Failed", reason: "Evicted" }, { phase: "Succeeded" }]) {
      const label = `${status.phase}${"reason" in status ? `/${status.reason}` : ""}`
      test(`a stale lock of a ${label} owner is deleted and taken at once`, () =>
        Effect.gen(function*() {
          const dead = yield* addPod("op-old", status)
          yield* addPod("op-1")
          const stale = yield* createLockOwnedBy(dead)
          const second = yield* forkLeader("op-1")
          yield* eventually("op-1 takes the stale lock", second.leads)
          const lock = Option.getOrThrow(yield* currentLock)
          expect(lock.metadata.ownerReferences?.[0]?.name).toBe("op-1")
          expect(lock.metadata.uid).not.toBe(stale.metadata.uid)
        }))
    }

    test("a holder whose Pod ends (evicted) while we wait: we take over without the backoff", () =>
      Effect.gen(function*() {
        const holder = yield* addPod("op-0")
        yield* addPod("op-1")
        yield* createLockOwnedBy(holder)
        const second = yield* forkLeader("op-1")
        yield* settle
        yield* TestClock.adjust("3 minutes")
        expect(yield* second.leads).toBe(false)
        const pods = yield* Pods
        const current = yield* pods.get("op-0", ns)
        yield* pods.replace({ ...current, status: { phase: "Failed", reason: "Evicted" } })
        yield* eventually("op-1 takes the lock of the evicted Pod", second.leads)
        expect(yield* lockOwner).toEqual(Option.some("op-1"))
      }))

    test("an owner with our name but another uid is not us: we wait for the garbage collector", () =>
      Effect.gen(function*() {
        // The lock names "op-0" with the uid of our previous incarnation. The in-memory garbage collector is
        // instant, so the previous incarnation's uid is kept alive by a Pod under another name: from the
        // collector's point of view, the old owner is not collected yet.
        const previous = yield* addPod("op-0-previous-incarnation")
        yield* createLockOwnedBy(previous, "op-0")
        const us = yield* addPod("op-0")
        expect(us.metadata.uid).not.toBe(previous.metadata.uid)

        const requests = yield* recordRequests()
        const candidate = yield* forkLeader("op-0")
        yield* settle
        expect(yield* candidate.leads).toBe(false)
        // Waiting for the collector is waiting, not a busy loop of requests.
        expect(requests.count("create")).toBeLessThanOrEqual(2)
        yield* TestClock.adjust("5 minutes")
        expect(yield* candidate.leads).toBe(false)
        expect(requests.count("create")).toBeLessThanOrEqual(20)
        expect(Option.getOrThrow(yield* currentLock).metadata.ownerReferences?.[0]?.uid).toBe(previous.metadata.uid)

        // The collector catches up: the lock goes, and we lead.
        yield* (yield* Pods).delete("op-0-previous-incarnation", ns)
        yield* eventually("op-0 leads once the old lock is collected", candidate.leads)
        expect(Option.getOrThrow(yield* currentLock).metadata.ownerReferences?.[0]?.uid).toBe(us.metadata.uid)
      }))

    test("holder Pod already gone but its lock not yet collected: we wait without a busy loop", () =>
      Effect.gen(function*() {
        // The API server answers 404 for the holder's Pod (deleted) while the collector has not removed the lock yet.
        const holder = yield* addPod("op-0")
        yield* addPod("op-1")
        yield* createLockOwnedBy(holder)
        const requests = yield* recordRequests((request) =>
          request.resource === "pods" && request.name === "op-0" && request.verb === "get"
            ? fromResponse(request, 404, { reason: "NotFound", message: "pods \"op-0\" not found" })
            : undefined
        )
        const candidate = yield* forkLeader("op-1")
        yield* settle
        expect(yield* candidate.leads).toBe(false)
        expect(requests.count("create")).toBeLessThanOrEqual(2)
        yield* TestClock.adjust("5 minutes")
        expect(requests.count("create")).toBeLessThanOrEqual(20)
        expect(yield* candidate.leads).toBe(false)
        // The collector runs: the lock's deletion wakes the wait.
        yield* (yield* Pods).delete("op-0", ns)
        yield* eventually("op-1 leads once the lock is collected", candidate.leads)
      }))

    test("release deletes only our own lock: one re-created by someone else meanwhile stays", () =>
      Effect.gen(function*() {
        yield* addPod("op-0")
        const other = yield* addPod("op-1")
        const scope = yield* Scope.make()
        const election = yield* replica("op-0")
        const leadership = yield* Scope.extend(election.leadership, scope)
        // Out of band: our lock is deleted and op-1's lock is created in its place.
        const locks = yield* lockService
        yield* locks.delete(lockName, ns)
        const theirs = yield* createLockOwnedBy(other)
        yield* leadership.lost
        yield* Scope.close(scope, Exit.void)
        const lock = Option.getOrThrow(yield* currentLock)
        expect(lock.metadata.uid).toBe(theirs.metadata.uid)
        expect(lock.metadata.ownerReferences?.[0]?.name).toBe("op-1")
      }))

    test("deleteLockOnRelease: false leaves the lock in place", () =>
      Effect.gen(function*() {
        const pod = yield* addPod("op-0")
        const result = yield* (yield* replica("op-0", { deleteLockOnRelease: false })).runAsLeader(Effect.succeed("ok"))
        expect(result).toEqual(Option.some("ok"))
        const lock = Option.getOrThrow(yield* currentLock)
        expect(lock.metadata.ownerReferences?.[0]?.uid).toBe(pod.metadata.uid)
        // ... and since it is still ours, the next run re-enters it at once.
        expect(yield* (yield* replica("op-0", { deleteLockOnRelease: false })).runAsLeader(Effect.succeed(2))).toEqual(
          Option.some(2)
        )
      }))

    test("a failed release does not hide the result", () =>
      Effect.gen(function*() {
        yield* addPod("op-0")
        const election = yield* replica("op-0")
        const result = yield* election.runAsLeader(
          Effect.as(
            Effect.flatMap(InMemoryCluster, (cluster) =>
              cluster.setInterceptor((request, proceed) =>
                request.verb === "delete"
                  ? Effect.fail(fromResponse(request, 503, { reason: "ServiceUnavailable", message: "down" }))
                  : proceed
              )),
            "result"
          )
        )
        expect(result).toEqual(Option.some("result"))
      }))

    test("a release whose delete never answers is abandoned after 10 s: interrupting the leader ends", () =>
      Effect.gen(function*() {
        yield* addPod("op-0")
        const leader = yield* forkLeader("op-0")
        yield* eventually("op-0 leads", leader.leads)
        yield* (yield* InMemoryCluster).setInterceptor((request, proceed) =>
          request.verb === "delete" ? Effect.never : proceed
        )
        const interrupting = yield* Effect.fork(Fiber.interrupt(leader.fiber))
        yield* TestClock.adjust("9999 millis")
        expect(yield* isDone(interrupting)).toBe(false)
        yield* TestClock.adjust("1 millis")
        yield* eventually("the interruption completes", isDone(interrupting))
        // The lock stays (its Pod still lives): it goes with the Pod, or a restart re-enters it by uid.
        expect(yield* lockOwner).toEqual(Option.some("op-0"))
      }))

    test("a waiting standby is interrupted promptly and leaves no lock behind", () =>
      Effect.gen(function*() {
        yield* addPod("op-0")
        yield* addPod("op-1")
        const first = yield* forkLeader("op-0")
        yield* eventually("op-0 leads", first.leads)
        const second = yield* forkLeader("op-1")
        yield* settle
        yield* TestClock.adjust("2 minutes")
        const interrupting = yield* Effect.fork(Fiber.interrupt(second.fiber))
        yield* eventually("the standby stops", isDone(interrupting))
        expect(Exit.isInterrupted(yield* Fiber.join(interrupting))).toBe(true)
        expect(yield* second.leads).toBe(false)
        // The leader is untouched; once it releases, no lock of the standby appears.
        expect(yield* lockOwner).toEqual(Option.some("op-0"))
        yield* Deferred.succeed(first.stop, undefined)
        yield* Fiber.join(first.fiber)
        yield* settle
        yield* TestClock.adjust("5 minutes")
        expect(yield* currentLock).toEqual(Option.none())
      }))

    test("interrupted while its create is unanswered (lost response): the lock it created is deleted", () =>
      Effect.gen(function*() {
        yield* addPod("op-0")
        const cluster = yield* InMemoryCluster
        const created = yield* Deferred.make<void>()
        yield* cluster.setInterceptor((request, proceed) =>
          request.verb === "create"
            ? Effect.zipRight(proceed, Effect.zipRight(Deferred.succeed(created, undefined), Effect.never))
            : proceed
        )
        const candidate = yield* forkLeader("op-0")
        yield* Deferred.await(created)
        expect(Option.isSome(yield* currentLock)).toBe(true)
        const interrupting = yield* Effect.fork(Fiber.interrupt(candidate.fiber))
        yield* eventually("the candidate stops", isDone(interrupting))
        expect(yield* candidate.leads).toBe(false)
        expect(yield* currentLock).toEqual(Option.none())
      }))

    test("Forbidden ends runAsLeader with the typed K8sError naming verb and resource, without retrying", () =>
      Effect.gen(function*() {
        yield* addPod("op-0")
        const requests = yield* recordRequests((request) =>
          request.verb === "create"
            ? fromResponse(request, 403, {
              kind: "Status",
              reason: "Forbidden",
              message:
                `${request.resource} "${request.name}" is forbidden: User "system:serviceaccount:${ns}:default" cannot create resource`
            })
            : undefined
        )
        const fiber = yield* Effect.fork((yield* replica("op-0")).runAsLeader(Effect.succeed("never")))
        yield* eventually("runAsLeader fails", isDone(fiber))
        const error = yield* Effect.flip(Fiber.join(fiber))
        expect(error).toBeInstanceOf(K8sError)
        if (!(error instanceof K8sError)) return
        expect(error.reason).toBe("Forbidden")
        expect(error.status).toBe(403)
        expect(error.verb).toBe("create")
        expect(error.resource).toBe(kind.resource)
        expect(error.message).toContain(`Grant the verb "create" on "${kind.resource}"`)
        expect(error.message).toContain(`create ${kind.resource} "${lockName}"`)
        yield* TestClock.adjust("10 minutes")
        expect(requests.count("create")).toBe(1)
      }))

    test("a lock held by another, and get forbidden: the typed error, not a loop of create and get", () =>
      Effect.gen(function*() {
        yield* createLockOwnedBy(yield* addPod("op-1"))
        yield* addPod("op-0")
        const requests = yield* recordRequests((request) =>
          request.verb === "get" && request.resource === kind.resource
            ? fromResponse(request, 403, { kind: "Status", reason: "Forbidden", message: "forbidden" })
            : undefined
        )
        const fiber = yield* Effect.fork((yield* replica("op-0")).runAsLeader(Effect.succeed("never")))
        yield* eventually("runAsLeader fails", isDone(fiber))
        const error = yield* Effect.flip(Fiber.join(fiber))
        expect(error).toBeInstanceOf(K8sError)
        if (!(error instanceof K8sError)) return
        expect(error.reason).toBe("Forbidden")
        expect(error.verb).toBe("get")
        expect(error.resource).toBe(kind.resource)
        expect(requests.count("create")).toBe(1)
      }))

    test("Unauthorized on reading our own Pod ends the election with that error, once", () =>
      Effect.gen(function*() {
        yield* addPod("op-0")
        const requests = yield* recordRequests((request) =>
          request.resource === "pods" ? fromResponse(request, 401, { reason: "Unauthorized" }) : undefined
        )
        const exit = yield* Effect.exit((yield* replica("op-0")).runAsLeader(Effect.void))
        expect(exit).toStrictEqual(Exit.fail(expect.objectContaining({ _tag: "K8sError", reason: "Unauthorized" })))
        expect(requests.count("get", "pods")).toBe(1)
      }))

    test("transient errors are retried on the schedule: 1 s, 2 s, 4 s ... capped at 30 s, jittered 0.8-1.2", () =>
      Effect.gen(function*() {
        yield* addPod("op-0")
        const requests = yield* recordRequests((request) =>
          request.verb === "create"
            ? fromResponse(request, 503, { reason: "ServiceUnavailable", message: "etcd is unavailable" })
            : undefined
        )
        const candidate = yield* forkLeader("op-0")
        yield* settle
        yield* TestClock.adjust("300 seconds")
        expect(yield* candidate.leads).toBe(false)
        const times = requests.log.filter((request) => request.verb === "create").map((request) => request.at)
        expect(times[0]).toBe(0)
        const gaps = times.slice(1).map((at, i) => (at - times[i]!) / 1000)
        const bases = gaps.map((_, i) => Math.min(2 ** i, 30))
        expect(gaps.length).toBeGreaterThanOrEqual(10)
        gaps.forEach((gap, i) => {
          expect(gap).toBeGreaterThanOrEqual(bases[i]! * 0.8 - 0.001)
          expect(gap).toBeLessThanOrEqual(bases[i]! * 1.2 + 0.001)
        })
        // Jittered: not every gap is exactly its base.
        expect(gaps.some((gap, i) => Math.abs(gap - bases[i]!) > 0.001)).toBe(true)

        // The server recovers: the next attempt leads.
        yield* (yield* InMemoryCluster).setInterceptor(undefined)
        yield* TestClock.adjust("40 seconds")
        yield* eventually("op-0 leads after the server recovered", candidate.leads)
      }))

    test("a missing POD_NAME fails with a typed ContextInfoError", () =>
      Effect.gen(function*() {
        const live = kind.layer(lockName).pipe(
          Layer.provide(ContextInfo.live),
          Layer.provide(FileSystem.layerNoop({ readFileString: () => Effect.succeed(ns) }))
        )
        const exit = yield* LeaderElection.runAsLeader(Effect.succeed(1)).pipe(
          Effect.provide(live),
          Effect.withConfigProvider(ConfigProvider.fromMap(new Map([["POD_NAMESPACE", ns]]))),
          Effect.exit
        )
        expect(Exit.isFailure(exit)).toBe(true)
        const error = yield* Effect.flip(exit)
        expect(error).toBeInstanceOf(ContextInfoError)
        if (!(error instanceof ContextInfoError)) return
        expect(error.missing).toBe("POD_NAME")
        expect(error.message).toContain("fieldPath: metadata.name")
      }))

    test("a POD_NAME that names no Pod fails with ContextInfoError missing \"pod\"", () =>
      Effect.gen(function*() {
        yield* addPod("someone-else")
        const error = yield* Effect.flip((yield* replica("typo-0")).runAsLeader(Effect.succeed(1)))
        expect(error).toBeInstanceOf(ContextInfoError)
        if (!(error instanceof ContextInfoError)) return
        expect(error.missing).toBe("pod")
        expect(error.message).toContain("typo-0")
        expect(error.message).toContain(ns)
        expect(yield* currentLock).toEqual(Option.none())
      }))

    test("the effect's failure passes through unchanged and the lock is released", () =>
      Effect.gen(function*() {
        yield* addPod("op-0")
        class AppError {
          readonly _tag = "AppError"
          constructor(readonly detail: string) {}
        }
        const failure = new AppError("boom")
        const error = yield* Effect.flip((yield* replica("op-0")).runAsLeader(Effect.fail(failure)))
        expect(error).toBe(failure)
        expect(yield* currentLock).toEqual(Option.none())
        // A defect passes through too, and releases as well.
        const exit = yield* Effect.exit((yield* replica("op-0")).runAsLeader(Effect.dieMessage("crash")))
        expect(Exit.isFailure(exit) && !Exit.isInterrupted(exit)).toBe(true)
        expect(yield* currentLock).toEqual(Option.none())
      }))

    test("LeaderElection.leadership: the lock exists while the scope is open, and is gone after", () =>
      Effect.gen(function*() {
        const pod = yield* addPod("op-0")
        const scope = yield* Scope.make()
        const election = yield* replica("op-0")
        const leadership = yield* Scope.extend(election.leadership, scope)
        expect(leadership.identity).toBe("op-0")
        expect(leadership.lock).toBe(lockName)
        expect(leadership.namespace).toBe(ns)
        yield* TestClock.adjust("1 hour")
        const lock = Option.getOrThrow(yield* currentLock)
        expect(lock.metadata.ownerReferences?.[0]?.uid).toBe(pod.metadata.uid)
        const lost = yield* Effect.fork(leadership.lost)
        yield* settle
        expect(yield* isDone(lost)).toBe(false)
        yield* Scope.close(scope, Exit.void)
        expect(yield* currentLock).toEqual(Option.none())
      }))

    test("a lock deleted out of band while leading: Leadership.lost completes and runAsLeader returns None", () =>
      Effect.gen(function*() {
        yield* addPod("op-0")
        yield* addPod("op-1")
        const interrupted = yield* Deferred.make<void>()
        const led = yield* Deferred.make<void>()
        const fiber = yield* (yield* replica("op-0")).runAsLeader(
          Effect.zipRight(Deferred.succeed(led, undefined), Effect.never).pipe(
            Effect.onInterrupt(() => Deferred.succeed(interrupted, undefined))
          )
        ).pipe(Effect.fork)
        yield* Deferred.await(led)
        const standby = yield* forkLeader("op-1")
        yield* settle
        yield* (yield* lockService).delete(lockName, ns)
        yield* eventually("runAsLeader ends", isDone(fiber))
        expect(yield* Fiber.join(fiber)).toEqual(Option.none())
        expect(yield* Deferred.isDone(interrupted)).toBe(true)
        // The lock went while its holder's Pod runs: the standby gives the holder 1 s to notice, then leads; the
        // former leader's release did not delete its lock.
        yield* TestClock.adjust("999 millis")
        yield* settle
        expect(yield* standby.leads).toBe(false)
        yield* TestClock.adjust("1 millis")
        yield* eventually("op-1 leads", standby.leads)
        yield* settle
        expect(yield* lockOwner).toEqual(Option.some("op-1"))
      }))

    test("leaderChanges emits the holder's Pod name, then None after release", () =>
      Effect.gen(function*() {
        yield* addPod("op-0")
        yield* addPod("op-1")
        const observer = yield* replica("op-1")
        const changes = yield* observer.leaderChanges.pipe(Stream.take(3), Stream.runCollect, Effect.fork)
        yield* settle
        yield* (yield* replica("op-0")).runAsLeader(settle)
        const seen = Chunk.toReadonlyArray(yield* Fiber.join(changes))
        expect(seen).toEqual([Option.none(), Option.some("op-0"), Option.none()])
        const viaAccessor = yield* LeaderElection.leaderChanges.pipe(
          Effect.flatMap((stream) => Stream.runHead(stream)),
          Effect.provide(kind.layer(lockName).pipe(Layer.provide(ContextInfo.test({ namespace: ns, podName: "op-1" }))))
        )
        expect(viaAccessor).toEqual(Option.some(Option.none()))
      }))

    test("one watch of the lock per service: waits, the watch for loss and leaderChanges share it; closed when all leave", () =>
      Effect.gen(function*() {
        const cluster = yield* InMemoryCluster
        const openWatches = Effect.map(
          cluster.openWatches,
          (watches) => watches.filter((watch) => watch.resource === kind.resource && watch.name === lockName).length
        )
        yield* addPod("op-0")
        yield* addPod("op-1")
        const leader = yield* forkLeader("op-0")
        yield* Deferred.await(leader.led)
        const standby = yield* replica("op-1")
        const led = yield* Deferred.make<void>()
        const stop = yield* Deferred.make<void>()
        const standbyFiber = yield* Effect.fork(
          standby.runAsLeader(Effect.zipRight(Deferred.succeed(led, undefined), Deferred.await(stop)))
        )
        const seen: Array<Option.Option<string>> = []
        const follow = standby.leaderChanges.pipe(
          Stream.runForEach((holder) => Effect.sync(() => seen.push(holder))),
          Effect.fork
        )
        const subscribers = [yield* follow, yield* follow]
        yield* TestClock.adjust("1 minute")
        yield* settle
        // op-0 leads (its watch for loss); op-1 waits and has two subscribers: one watch each.
        expect(yield* openWatches).toBe(2)
        expect(seen).toEqual([Option.some("op-0"), Option.some("op-0")])
        yield* Deferred.succeed(leader.stop, undefined)
        yield* Deferred.await(led)
        yield* settle
        // op-0's service has no user left; op-1 leads on the watch it waited on.
        expect(yield* openWatches).toBe(1)
        expect(seen.filter(Option.isSome).map((holder) => holder.value)).toEqual(["op-0", "op-0", "op-1", "op-1"])
        yield* Effect.forEach(subscribers, Fiber.interrupt)
        yield* settle
        expect(yield* openWatches).toBe(1)
        yield* Deferred.succeed(stop, undefined)
        yield* Fiber.join(standbyFiber)
        expect(yield* openWatches).toBe(0)
      }))

    test("the term (fencing token) grows between two successive leaderships", () =>
      Effect.gen(function*() {
        yield* addPod("op-0")
        yield* addPod("op-1")
        const term = (podName: string) =>
          Effect.scoped(Effect.flatMap(replica(podName), (election) => election.leadership)).pipe(
            Effect.map((leadership) => leadership.term)
          )
        const first = yield* term("op-0")
        const second = yield* term("op-1")
        const third = yield* term("op-0")
        expect(first).toBeGreaterThan(0)
        expect(second).toBeGreaterThan(first)
        expect(third).toBeGreaterThan(second)
      }))

    test("a finite retry schedule that ends fails with LockUnavailableError naming the holder", () =>
      Effect.gen(function*() {
        yield* addPod("op-0")
        yield* addPod("op-1")
        const first = yield* forkLeader("op-0")
        yield* eventually("op-0 leads", first.leads)
        const requests = yield* recordRequests()
        const schedule = Schedule.spaced("1 second").pipe(Schedule.intersect(Schedule.recurs(3)))
        const fiber = yield* Effect.fork((yield* replica("op-1", { retrySchedule: schedule })).runAsLeader(Effect.void))
        yield* settle
        yield* TestClock.adjust("2 seconds")
        expect(yield* isDone(fiber)).toBe(false)
        yield* TestClock.adjust("2 seconds")
        yield* eventually("the election gives up", isDone(fiber))
        const error = yield* Effect.flip(Fiber.join(fiber))
        expect(error).toBeInstanceOf(LockUnavailableError)
        expect(error).toMatchObject({ lock: lockName, namespace: ns, holder: "op-0" })
        expect(requests.count("create")).toBe(4)
        expect(yield* lockOwner).toEqual(Option.some("op-0"))
      }))

    test("after a lost leadership the same election leads again, with no stale loss signal", () =>
      Effect.gen(function*() {
        yield* addPod("op-0")
        const election = yield* replica("op-0")
        const led = yield* Deferred.make<void>()
        const fiber = yield* election.runAsLeader(Effect.zipRight(Deferred.succeed(led, undefined), Effect.never)).pipe(
          Effect.fork
        )
        yield* Deferred.await(led)
        yield* (yield* lockService).delete(lockName, ns)
        expect(yield* Fiber.join(fiber)).toEqual(Option.none())
        // The next term runs to its end: the previous term's loss does not end it.
        const second = yield* election.runAsLeader(Effect.zipRight(settle, Effect.succeed("second term")))
        expect(second).toEqual(Option.some("second term"))
        const scope = yield* Scope.make()
        const leadership = yield* Scope.extend(election.leadership, scope)
        const lost = yield* Effect.fork(leadership.lost)
        yield* settle
        yield* TestClock.adjust("1 hour")
        expect(yield* isDone(lost)).toBe(false)
        yield* Scope.close(scope, Exit.void)
      }))

    test("interrupting the leader releases the lock", () =>
      Effect.gen(function*() {
        yield* addPod("op-0")
        const leader = yield* forkLeader("op-0")
        yield* eventually("op-0 leads", leader.leads)
        expect(yield* lockOwner).toEqual(Option.some("op-0"))
        const exit = yield* Fiber.interrupt(leader.fiber)
        expect(Exit.isInterrupted(exit)).toBe(true)
        expect(yield* currentLock).toEqual(Option.none())
      }))

    test("a watch the server refuses as it connects is reopened with growing backoff, not every 500 ms", () =>
      Effect.gen(function*() {
        yield* addPod("op-0")
        const leader = yield* forkLeader("op-0")
        yield* eventually("op-0 leads", leader.leads)
        yield* TestClock.adjust("1 minute") // a healthy connection: the backoff starts over after it
        const requests = yield* recordRequests((request) =>
          request.verb === "watch"
            ? fromResponse(request, 429, {
              reason: "TooManyRequests",
              message: "throttled by API Priority and Fairness"
            })
            : undefined
        )
        yield* (yield* InMemoryCluster).dropWatches
        for (let i = 0; i < 240; i++) yield* TestClock.adjust("250 millis")
        // Reopened after 0.5, 1, 2, 4, 8, 16, 30 s, each x [0.8, 1.2]: 6 or 7 times in the minute. A backoff that
        // every connection reset, however short-lived, would reopen it every 0.5 s: about 100 times.
        const watches = requests.count("watch")
        expect(watches).toBeGreaterThanOrEqual(6)
        expect(watches).toBeLessThanOrEqual(7)
        // Each reopening reads the lock first, and nothing else polls.
        expect(requests.log.length).toBe(2 * watches)
        // Leadership for life does not depend on the watch.
        expect(yield* isDone(leader.fiber)).toBe(false)
        yield* Deferred.succeed(leader.stop, undefined)
        yield* Fiber.join(leader.fiber)
      }))

    test("a dropped watch is re-established: a standby still takes over at once after the release", () =>
      Effect.gen(function*() {
        yield* addPod("op-0")
        yield* addPod("op-1")
        const first = yield* forkLeader("op-0")
        yield* eventually("op-0 leads", first.leads)
        const second = yield* forkLeader("op-1")
        yield* settle
        yield* TestClock.adjust("2 minutes")
        yield* (yield* InMemoryCluster).dropWatches
        // The watch reconnects after its own short backoff (500 ms, jittered), well before the lock's retry.
        yield* TestClock.adjust("1 second")
        expect(yield* second.leads).toBe(false)
        // The leader did not lose its leadership over a dropped watch.
        expect(yield* isDone(first.fiber)).toBe(false)
        yield* Deferred.succeed(first.stop, undefined)
        yield* Fiber.join(first.fiber)
        yield* eventually("op-1 leads", second.leads)
      }))

    describe("adversarial events (issue 10)", () => {
      /** The election service of `podName`, built in the test's scope (its background watch lives as long). */
      const scopedReplica = (podName: string, options?: LeaderForLifeOptions) =>
        Layer.build(kind.layer(lockName, options).pipe(Layer.provide(ContextInfo.test({ namespace: ns, podName }))))
          .pipe(Effect.map(Context.get(LeaderElection)))

      test("two runAsLeader on one service never run at once, and the first one's release spares the second", () =>
        Effect.gen(function*() {
          yield* addPod("op-0")
          const election = yield* replica("op-0")
          let running = 0
          let most = 0
          const ownersSeen: Array<Option.Option<string | undefined>> = []
          const guarded = (label: string) =>
            election.runAsLeader(Effect.gen(function*() {
              most = Math.max(most, ++running)
              yield* TestClock.sleep("1 second")
              ownersSeen.push(yield* lockOwner)
              running--
              return label
            }))
          const both = yield* Effect.fork(Effect.all([guarded("first"), guarded("second")], { concurrency: 2 }))
          yield* settle
          for (let i = 0; i < 4; i++) {
            yield* TestClock.adjust("1 second")
            yield* settle
          }
          expect(yield* Fiber.join(both)).toEqual([Option.some("first"), Option.some("second")])
          expect(most).toBe(1)
          expect(ownersSeen).toEqual([Option.some("op-0"), Option.some("op-0")])
        }))

      test("an owner reference edited to another Pod (same object, same uid) ends the leadership at once", () =>
        Effect.gen(function*() {
          yield* addPod("op-0")
          const other = yield* addPod("op-1")
          const leader = yield* forkLeader("op-0")
          yield* eventually("op-0 leads", leader.leads)
          const locks = yield* lockService
          const lock = Option.getOrThrow(yield* currentLock)
          yield* locks.replace({ ...lock, metadata: { ...lock.metadata, ownerReferences: [ownerRef(other)] } })
          yield* eventually("op-0 stops", isDone(leader.fiber))
          expect(yield* Fiber.join(leader.fiber)).toEqual(Option.none())
          // Its release spared the lock it no longer owns.
          expect(yield* lockOwner).toEqual(Option.some("op-1"))
        }))

      test("the watch's first read, issued before our create and answered NotFound after it, is no loss", () =>
        Effect.gen(function*() {
          yield* addPod("op-0")
          const cluster = yield* InMemoryCluster
          const readIssued = yield* Deferred.make<void>()
          const created = yield* Deferred.make<void>()
          let reads = 0
          // The read of the lock (the shared watch's) is issued first; our create completes before its answer.
          yield* cluster.setInterceptor((request, proceed) =>
            request.resource !== kind.resource
              ? proceed
              : request.verb === "get" && reads++ === 0
              ? Effect.exit(proceed).pipe(
                Effect.zipLeft(Deferred.succeed(readIssued, undefined)),
                Effect.zipLeft(Deferred.await(created)),
                Effect.flatten
              )
              : request.verb === "create"
              ? Effect.zipRight(
                Deferred.await(readIssued),
                Effect.zipLeft(proceed, Deferred.succeed(created, undefined))
              )
              : proceed
          )
          const leader = yield* forkLeader("op-0")
          yield* Deferred.await(leader.led)
          yield* settle
          yield* TestClock.adjust("1 minute")
          yield* settle
          expect(reads).toBeGreaterThanOrEqual(2)
          expect(yield* isDone(leader.fiber)).toBe(false)
          expect(yield* lockOwner).toEqual(Option.some("op-0"))
          yield* Deferred.succeed(leader.stop, undefined)
        }))

      test("a stale lock that a finalizer keeps after the DELETE: the standby waits on the backoff, no tight loop", () =>
        Effect.gen(function*() {
          const ended = yield* addPod("op-0", { phase: "Failed", reason: "Evicted" })
          yield* addPod("op-1")
          yield* createLockOwnedBy(ended)
          // The DELETE answers 200 but the object stays, as it does while a finalizer holds it.
          const requests = yield* recordRequests()
          const cluster = yield* InMemoryCluster
          yield* cluster.setInterceptor((request, proceed) =>
            Effect.flatMap(TestClock.currentTimeMillis, (at) => {
              requests.log.push({ ...request, at })
              return request.verb === "delete" ? Effect.as(Effect.void, undefined as never) : proceed
            })
          )
          const standby = yield* forkLeader("op-1")
          yield* settle
          for (let i = 0; i < 12; i++) {
            yield* TestClock.adjust("10 seconds")
            yield* settle
          }
          expect(yield* standby.leads).toBe(false)
          // Two minutes on the default schedule (1, 2, 4, 8, 16, 30, 30, 30 s): a handful of attempts of a few
          // requests each, not thousands.
          expect(requests.count("delete")).toBeGreaterThanOrEqual(2)
          expect(requests.count("delete")).toBeLessThanOrEqual(10)
          expect(requests.log.length).toBeLessThanOrEqual(60)
        }))

      test("a create committed after the client gave up leaves no lock behind: the service deletes it", () =>
        Effect.gen(function*() {
          yield* addPod("op-0")
          yield* addPod("op-1")
          const cluster = yield* InMemoryCluster
          // The server commits the create 5 s later, after the client aborted and after its cleanup looked.
          yield* cluster.setInterceptor((request, proceed) =>
            request.verb === "create" && request.resource === kind.resource
              ? Effect.zipRight(Effect.forkDaemon(Effect.delay(proceed, "5 seconds")), Effect.never)
              : proceed
          )
          const election = yield* scopedReplica("op-0")
          const attempt = yield* Effect.fork(election.runAsLeader(Effect.void))
          yield* settle
          yield* TestClock.adjust("1 second")
          yield* Fiber.interrupt(attempt)
          yield* settle
          expect(yield* currentLock).toEqual(Option.none())
          yield* cluster.setInterceptor(undefined)
          yield* TestClock.adjust("5 seconds")
          yield* eventually("the late lock is deleted", Effect.map(Effect.orDie(currentLock), Option.isNone))
          // Someone else can lead now, while op-0 lives on.
          const other = yield* forkLeader("op-1")
          yield* eventually("op-1 leads", other.leads)
        }))

      test("a finite retry schedule used up while reading our own Pod fails with LockUnavailableError", () =>
        Effect.gen(function*() {
          yield* addPod("op-0")
          yield* recordRequests((request) =>
            request.resource === "pods"
              ? fromResponse({ verb: "get", resource: "pods", namespace: ns, name: "op-0" }, 503, "overloaded")
              : undefined
          )
          const schedule = Schedule.spaced("1 second").pipe(Schedule.intersect(Schedule.recurs(2)))
          const fiber = yield* Effect.fork(
            (yield* replica("op-0", { retrySchedule: schedule })).runAsLeader(Effect.void)
          )
          yield* settle
          yield* TestClock.adjust("3 seconds")
          yield* eventually("the election gives up", isDone(fiber))
          const error = yield* Effect.flip(Fiber.join(fiber))
          expect(error).toBeInstanceOf(LockUnavailableError)
          expect(error.message).toContain("overloaded")
        }))

      test("a release mark left by a process that died between marking and deleting is dropped on re-entry", () =>
        Effect.gen(function*() {
          const pod = yield* addPod("op-0")
          const locks = yield* lockService
          const lock = yield* createLockOwnedBy(pod)
          yield* locks.replace({
            ...lock,
            metadata: { ...lock.metadata, annotations: { "effect-k8s-leader.io/released-at": "2026-12-03T00:00:00Z" } }
          })
          const seen = yield* (yield* replica("op-0", { deleteLockOnRelease: false })).runAsLeader(
            Effect.map(currentLock, Option.map((current) => current.metadata.annotations ?? {}))
          )
          const annotations = Option.getOrThrow(Option.flatten(seen))
          expect(annotations["effect-k8s-leader.io/released-at"]).toBeUndefined()
          expect(annotations["effect-k8s-leader.io/reentered-at"]).toBeDefined()
        }))

      test("a Role without update (as shipped before) still re-enters a lock its Pod owns, and releases it", () =>
        Effect.gen(function*() {
          const pod = yield* addPod("op-0")
          const existing = yield* createLockOwnedBy(pod)
          yield* recordRequests((request) =>
            request.verb === "update"
              ? fromResponse(
                { verb: "update", resource: kind.resource, namespace: ns, name: lockName },
                403,
                "forbidden"
              )
              : undefined
          )
          const result = yield* (yield* replica("op-0")).runAsLeader(
            Effect.map(currentLock, Option.map((l) => l.metadata.uid))
          )
          expect(result).toEqual(Option.some(Option.some(existing.metadata.uid)))
          expect(yield* currentLock).toEqual(Option.none())
        }))

      test("the term strictly grows through re-entry by the same Pod and the re-creation of the lock", () =>
        Effect.gen(function*() {
          yield* addPod("op-0")
          yield* addPod("op-1")
          const term = (podName: string, options?: LeaderForLifeOptions) =>
            Effect.scoped(Effect.flatMap(replica(podName, options), (election) => election.leadership)).pipe(
              Effect.map((leadership) => leadership.term)
            )
          const keep = { deleteLockOnRelease: false }
          const first = yield* term("op-0", keep)
          // The lock stays and is ours: a new leadership re-enters it, with a greater term all the same.
          const second = yield* term("op-0", keep)
          const locks = yield* lockService
          yield* locks.delete(lockName, ns)
          const third = yield* term("op-1")
          expect(second).toBeGreaterThan(first)
          expect(third).toBeGreaterThan(second)
        }))
    })

    test("two locks with different names are independent", () =>
      Effect.gen(function*() {
        yield* addPod("op-0")
        yield* addPod("op-1")
        const first = yield* forkLeader("op-0")
        yield* eventually("op-0 leads", first.leads)
        const other = yield* (yield* replica("op-1", undefined, "another-lock")).runAsLeader(Effect.succeed("x"))
        expect(other).toEqual(Option.some("x"))
      }))
  })

describe("leader for life", () => {
  for (const kind of kinds) leaderForLifeSuite(kind)

  it("the shared suite runs for both lock kinds", () => {
    expect(kinds.map((kind) => kind.name)).toEqual(["configMapLock", "customLeaderLock"])
    expect(Context.isTag(LeaderElection)).toBe(true)
  })
})
