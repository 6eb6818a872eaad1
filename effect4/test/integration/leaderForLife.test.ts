/** Leader for life (ConfigMap, LeaderLock) on a real API server and garbage collector, Effect 4 edition. */
import { Deferred, Effect, Fiber, Layer, Option } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import {
  ConfigMaps,
  ContextInfo,
  type KubernetesObject,
  LeaderElection,
  LeaderLocks,
  Pods,
  type ResourceService
} from "../../../src/effect4/index.js"
import { monoNow } from "../../../testkit/candidates.js"
import type { ControlPlane } from "../../../testkit/controlPlane.js"
import { applyYaml, createPod, eventually, failPod, liveLayer, startCluster, unique } from "./harness.js"

let cluster: ControlPlane
let layer: ReturnType<typeof liveLayer>

beforeAll(async () => {
  cluster = await startCluster()
  layer = liveLayer(cluster.adminKubeconfig)
})
afterAll(async () => {
  await cluster?.stop({ clean: true })
})

interface LockKind {
  readonly kind: string
  readonly lock: (name: string) => Layer.Layer<LeaderElection, never, ContextInfo | Pods | ConfigMaps | LeaderLocks>
  readonly service: Effect.Effect<ResourceService<KubernetesObject>, never, ConfigMaps | LeaderLocks>
  readonly prepare: Effect.Effect<void, unknown, any>
}

const kinds: ReadonlyArray<LockKind> = [
  {
    kind: "ConfigMap",
    lock: (name) => LeaderElection.configMapLock(name),
    service: ConfigMaps,
    prepare: Effect.void
  },
  {
    kind: "LeaderLock",
    lock: (name) => LeaderElection.customLeaderLock(name),
    service: LeaderLocks,
    // The CRD from deploy/crds/, then a garbage-collector canary: the collector discovers new resource types on
    // its own schedule, and the tests below need it to collect LeaderLocks.
    prepare: Effect.gen(function*() {
      yield* applyYaml("deploy/crds/leaderlocks.effect-k8s-leader.io.yaml")
      yield* LeaderLocks.ensureDefinition
      const locks = yield* LeaderLocks
      const owner = yield* createPod(unique("canary"))
      const name = unique("canary-lock")
      yield* eventually(locks.create({
        metadata: {
          name,
          namespace: "default",
          ownerReferences: [{ apiVersion: "v1", kind: "Pod", name: owner.metadata.name, uid: owner.metadata.uid! }]
        }
      }))
      yield* Effect.flatMap(Pods, (pods) => pods.delete(owner.metadata.name, "default"))
      yield* eventually(
        locks.get(name, "default").pipe(Effect.flip, Effect.filterOrFail((e) => e.reason === "NotFound")),
        "90 seconds"
      )
    })
  }
]

describe.each(kinds)("leader for life on a $kind, real API server and garbage collector", (lockKind) => {
  const election = (podName: string, lockName: string) =>
    lockKind.lock(lockName).pipe(
      Layer.provide(Layer.merge(layer, ContextInfo.test({ namespace: "default", podName })))
    )
  const runs = <A, E>(effect: Effect.Effect<A, E, any>): Promise<A> =>
    Effect.runPromise(Effect.provide(effect, layer) as Effect.Effect<A, E>)
  const lockService = lockKind.service

  beforeAll(async () => {
    await runs(lockKind.prepare)
  }, 180_000)

  it("when the leader's Pod is deleted, the garbage collector frees the lock and the standby leads", async () => {
    const lockName = unique("gc")
    const result = await runs(Effect.gen(function*() {
      yield* createPod("gc-a-" + lockName)
      yield* createPod("gc-b-" + lockName)
      const aLeads = yield* Deferred.make<void>()
      const bLeads = yield* Deferred.make<number>()
      const a = yield* LeaderElection.runAsLeader(
        Deferred.succeed(aLeads, undefined).pipe(Effect.andThen(Effect.never))
      ).pipe(Effect.provide(election("gc-a-" + lockName, lockName)), Effect.forkChild)
      yield* Deferred.await(aLeads)
      const b = yield* LeaderElection.runAsLeader(
        Effect.sync(monoNow).pipe(Effect.flatMap((now) => Deferred.succeed(bLeads, now)), Effect.as("b"))
      ).pipe(Effect.provide(election("gc-b-" + lockName, lockName)), Effect.forkChild)
      yield* Effect.sleep("1500 millis")
      const waited = !(yield* Deferred.isDone(bLeads))

      const deletedAt = monoNow()
      yield* Effect.flatMap(Pods, (pods) => pods.delete("gc-a-" + lockName, "default"))
      const bLeadAt = yield* Deferred.await(bLeads)
      const aResult = yield* Fiber.join(a)
      const bResult = yield* Fiber.join(b)
      return { waited, takeoverMs: (bLeadAt - deletedAt) / 1e6, aResult, bResult }
    }))
    expect(result.waited).toBe(true)
    // Woken by the watch: well before the first 1 s backoff step could have fired twice.
    expect(result.takeoverMs).toBeLessThan(1000)
    // The old leader saw its lock vanish and stopped its work.
    expect(result.aResult).toEqual(Option.none())
    expect(result.bResult).toEqual(Option.some("b"))
    console.log(`${lockKind.kind}: takeover ${result.takeoverMs.toFixed(1)} ms after the leader's Pod was deleted`)
  })

  it("takes the stale lock of a Failed (evicted) owner at once", async () => {
    const lockName = unique("stale")
    const outcome = await runs(Effect.gen(function*() {
      const owner = yield* createPod("stale-owner-" + lockName)
      yield* createPod("stale-c-" + lockName)
      const locks = yield* lockService
      yield* locks.create({
        ...(lockKind.kind === "LeaderLock" ? { apiVersion: "effect-k8s-leader.io/v1", kind: "LeaderLock" } : {}),
        metadata: {
          name: lockName,
          namespace: "default",
          ownerReferences: [{ apiVersion: "v1", kind: "Pod", name: owner.metadata.name, uid: owner.metadata.uid! }]
        }
      })
      yield* failPod(owner.metadata.name, "Evicted")
      const started = monoNow()
      const result = yield* LeaderElection.runAsLeader(Effect.succeed("c")).pipe(
        Effect.provide(election("stale-c-" + lockName, lockName)),
        Effect.timeout("10 seconds")
      )
      return { result, ms: (monoNow() - started) / 1e6 }
    }))
    expect(outcome.result).toEqual(Option.some("c"))
    expect(outcome.ms).toBeLessThan(1000)
  })

  it("releases: the lock is deleted when the protected effect ends", async () => {
    const lockName = unique("release")
    const gone = await runs(Effect.gen(function*() {
      yield* createPod("release-" + lockName)
      const locks = yield* lockService
      const during = yield* LeaderElection.runAsLeader(locks.get(lockName, "default")).pipe(
        Effect.provide(election("release-" + lockName, lockName))
      )
      expect(Option.isSome(during)).toBe(true)
      return yield* locks.get(lockName, "default").pipe(Effect.flip)
    }))
    expect(gone.reason).toBe("NotFound")
  })

  it("an owner reference edited to another Pod ends the leadership at once, and the release spares the lock", async () => {
    const lockName = unique("edited")
    const outcome = await runs(Effect.gen(function*() {
      yield* createPod("edited-a-" + lockName)
      const other = yield* createPod("edited-b-" + lockName)
      const locks = yield* lockService
      const leads = yield* Deferred.make<void>()
      const leader = yield* LeaderElection.runAsLeader(
        Effect.andThen(Deferred.succeed(leads, undefined), Effect.never)
      )
        .pipe(Effect.provide(election("edited-a-" + lockName, lockName)), Effect.forkChild)
      yield* Deferred.await(leads)
      const lock = yield* locks.get(lockName, "default")
      const editedAt = monoNow()
      yield* locks.replace({
        ...lock,
        metadata: {
          ...lock.metadata,
          ownerReferences: [{ apiVersion: "v1", kind: "Pod", name: other.metadata.name, uid: other.metadata.uid! }]
        }
      })
      const result = yield* Fiber.join(leader)
      const stoppedMs = (monoNow() - editedAt) / 1e6
      const after = yield* locks.get(lockName, "default")
      return { result, stoppedMs, ownerAfter: after.metadata.ownerReferences?.[0]?.name }
    }))
    expect(outcome.result).toEqual(Option.none())
    expect(outcome.stoppedMs).toBeLessThan(1000)
    expect(outcome.ownerAfter).toBe("edited-b-" + lockName)
    console.log(`${lockKind.kind}: the leader stopped ${outcome.stoppedMs.toFixed(1)} ms after its owner was edited`)
  })

  it("a stale lock kept by a finalizer: the standby does not loop, and leads once the finalizer goes", async () => {
    const lockName = unique("finalizer")
    const outcome = await runs(Effect.gen(function*() {
      const owner = yield* createPod("fin-owner-" + lockName)
      yield* createPod("fin-c-" + lockName)
      const shared = yield* lockService
      const counted = { delete: 0, create: 0 }
      const locks: ResourceService<KubernetesObject> = {
        ...shared,
        create: (object) => Effect.andThen(Effect.sync(() => counted.create++), shared.create(object)),
        delete: (name, namespace, options) =>
          Effect.andThen(Effect.sync(() => counted.delete++), shared.delete(name, namespace, options))
      }
      yield* shared.create({
        ...(lockKind.kind === "LeaderLock" ? { apiVersion: "effect-k8s-leader.io/v1", kind: "LeaderLock" } : {}),
        metadata: {
          name: lockName,
          namespace: "default",
          finalizers: ["example.com/hold"],
          ownerReferences: [{ apiVersion: "v1", kind: "Pod", name: owner.metadata.name, uid: owner.metadata.uid! }]
        }
      } as KubernetesObject)
      yield* failPod(owner.metadata.name, "Evicted")
      const standbyLayer = lockKind.lock(lockName).pipe(
        Layer.provide(Layer.mergeAll(
          layer,
          ContextInfo.test({ namespace: "default", podName: "fin-c-" + lockName }),
          lockKind.kind === "ConfigMap"
            ? Layer.succeed(ConfigMaps, locks as ResourceService<any>)
            : Layer.succeed(LeaderLocks, locks as ResourceService<any>)
        ))
      )
      const leads = yield* Deferred.make<number>()
      const standby = yield* LeaderElection.runAsLeader(
        Effect.flatMap(Effect.sync(monoNow), (now) => Deferred.succeed(leads, now))
      ).pipe(Effect.provide(standbyLayer), Effect.forkChild)
      yield* Effect.sleep("4 seconds")
      const waiting = !(yield* Deferred.isDone(leads))
      const during = { ...counted }
      // The finalizer's controller finishes: the object goes, and the standby leads on the watch event.
      const held = yield* shared.get(lockName, "default")
      const releasedAt = monoNow()
      yield* shared.replace({ ...held, metadata: { ...held.metadata, finalizers: [] } } as KubernetesObject)
      const ledAt = yield* Deferred.await(leads)
      yield* Fiber.join(standby)
      return { waiting, during, takeoverMs: (ledAt - releasedAt) / 1e6 }
    }))
    expect(outcome.waiting).toBe(true)
    // 4 s on the default schedule (1, 2 s ...): a few attempts, not a loop.
    expect(outcome.during.delete).toBeGreaterThanOrEqual(1)
    expect(outcome.during.delete).toBeLessThanOrEqual(4)
    expect(outcome.during.create).toBeLessThanOrEqual(5)
    expect(outcome.takeoverMs).toBeLessThan(1000)
    console.log(
      `${lockKind.kind}: ${outcome.during.delete} deletes in 4 s behind a finalizer; led ${
        outcome.takeoverMs.toFixed(1)
      } ms after it went`
    )
  })
})
