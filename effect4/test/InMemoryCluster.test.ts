import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Exit, Fiber, Result, Stream } from "effect"
import { TestClock } from "effect/testing"
import { ConfigMaps } from "../../src/effect4/ConfigMaps.js"
import { InMemoryCluster } from "../../src/effect4/InMemoryCluster.js"
import { fromResponse, K8sError } from "../../src/effect4/K8sError.js"
import { LeaderLocks } from "../../src/effect4/LeaderLocks.js"
import { Leases } from "../../src/effect4/Leases.js"
import { Pods } from "../../src/effect4/Pods.js"
import type { ConfigMap, LeaderLock, Lease } from "../../src/effect4/resources.js"

const ns = "default"

const withCluster = <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.provide(effect, InMemoryCluster.layer)

const failureOf = <A>(effect: Effect.Effect<A, K8sError>) => Effect.flip(effect)

/** Yields until the other fibers have run (no clock involved). */
const settle = Effect.repeat(Effect.yieldNow, { times: 50 })

describe("InMemoryCluster", () => {
  it.effect("assigns a uid and a new resourceVersion on every write", () =>
    withCluster(Effect.gen(function*() {
      const configMaps = yield* ConfigMaps
      const created = yield* configMaps.create({ metadata: { name: "cm", namespace: ns }, data: { a: "1" } })
      expect(created.metadata.uid).toBeTypeOf("string")
      expect(created.metadata.uid).not.toBe("")
      expect(created.metadata.resourceVersion).toBeTypeOf("string")
      expect(created.apiVersion).toBe("v1")
      expect(created.kind).toBe("ConfigMap")

      const replaced = yield* configMaps.replace({ ...created, data: { a: "2" } })
      expect(replaced.metadata.uid).toBe(created.metadata.uid)
      expect(replaced.metadata.resourceVersion).not.toBe(created.metadata.resourceVersion)
      expect(Number(replaced.metadata.resourceVersion)).toBeGreaterThan(Number(created.metadata.resourceVersion))

      const again = yield* configMaps.replace({ ...replaced, data: { a: "3" } })
      expect(Number(again.metadata.resourceVersion)).toBeGreaterThan(Number(replaced.metadata.resourceVersion))

      const read = yield* configMaps.get("cm", ns)
      expect(read.data).toEqual({ a: "3" })
      expect(read.metadata.resourceVersion).toBe(again.metadata.resourceVersion)

      // Another object gets another uid; a re-created object gets a fresh uid.
      const other = yield* configMaps.create({ metadata: { name: "other", namespace: ns } })
      expect(other.metadata.uid).not.toBe(created.metadata.uid)
      yield* configMaps.delete("cm", ns)
      const recreated = yield* configMaps.create({ metadata: { name: "cm", namespace: ns } })
      expect(recreated.metadata.uid).not.toBe(created.metadata.uid)
      expect(Number(recreated.metadata.resourceVersion)).toBeGreaterThan(Number(again.metadata.resourceVersion))
    })))

  it.effect("finalizers: a delete marks the object (deletionTimestamp, once) and it stays until the last one goes", () =>
    Effect.gen(function*() {
      const configMaps = yield* ConfigMaps
      const pods = yield* Pods
      const owner = yield* pods.create({ metadata: { name: "owner", namespace: ns } })
      const created = yield* configMaps.create({
        metadata: {
          name: "cm",
          namespace: ns,
          finalizers: ["example.com/hold"],
          ownerReferences: [{ apiVersion: "v1", kind: "Pod", name: "owner", uid: owner.metadata.uid! }]
        }
      })
      const events = yield* configMaps.watch("cm", ns, { resourceVersion: created.metadata.resourceVersion! }).pipe(
        Stream.take(3),
        Stream.runCollect,
        Effect.forkChild
      )
      yield* configMaps.delete("cm", ns)
      const marked = yield* configMaps.get("cm", ns)
      expect(marked.metadata.deletionTimestamp).toBeDefined()
      // A second delete, and the garbage collector (the owner goes), change nothing more.
      yield* configMaps.delete("cm", ns)
      yield* pods.delete("owner", ns)
      expect((yield* configMaps.get("cm", ns)).metadata.resourceVersion).toBe(marked.metadata.resourceVersion)
      // An update keeps the deletionTimestamp; the one that removes the last finalizer deletes the object.
      yield* configMaps.replace({ ...marked, metadata: { ...marked.metadata, finalizers: [] } })
      expect((yield* failureOf(configMaps.get("cm", ns))).reason).toBe("NotFound")
      const seen = yield* Fiber.join(events)
      expect(seen.map((event) => event.type)).toEqual(["MODIFIED", "MODIFIED", "DELETED"])
    }).pipe(withCluster))

  it.effect("ignores a uid or resourceVersion sent on create", () =>
    withCluster(Effect.gen(function*() {
      const configMaps = yield* ConfigMaps
      const created = yield* configMaps.create({
        metadata: { name: "cm", namespace: ns, uid: "mine", resourceVersion: "999" }
      })
      expect(created.metadata.uid).not.toBe("mine")
      expect(created.metadata.resourceVersion).not.toBe("999")
    })))

  it.effect("create of an existing name fails with AlreadyExists (409)", () =>
    withCluster(Effect.gen(function*() {
      const configMaps = yield* ConfigMaps
      yield* configMaps.create({ metadata: { name: "cm", namespace: ns }, data: { first: "yes" } })
      const error = yield* failureOf(configMaps.create({ metadata: { name: "cm", namespace: ns } }))
      expect(error).toBeInstanceOf(K8sError)
      expect(error._tag).toBe("K8sError")
      expect(error.reason).toBe("AlreadyExists")
      expect(error.status).toBe(409)
      expect(error.verb).toBe("create")
      expect(error.resource).toBe("configmaps")
      expect(error.name).toBe("cm")
      expect(error.namespace).toBe(ns)
      // The first object is untouched.
      expect((yield* configMaps.get("cm", ns)).data).toEqual({ first: "yes" })
      // The same name in another namespace, or another kind with the same name, is another object.
      yield* configMaps.create({ metadata: { name: "cm", namespace: "other" } })
      yield* (yield* Leases).create({ metadata: { name: "cm", namespace: ns } })
    })))

  it.effect("create without a name is Invalid", () =>
    withCluster(Effect.gen(function*() {
      const error = yield* failureOf((yield* ConfigMaps).create({ metadata: { name: "", namespace: ns } }))
      expect(error.reason).toBe("Invalid")
      expect(error.status).toBe(422)
    })))

  it.effect("replace with a stale resourceVersion fails with Conflict and changes nothing", () =>
    withCluster(Effect.gen(function*() {
      const configMaps = yield* ConfigMaps
      const created = yield* configMaps.create({ metadata: { name: "cm", namespace: ns }, data: { v: "1" } })
      const winner = yield* configMaps.replace({ ...created, data: { v: "2" } })
      const error = yield* failureOf(configMaps.replace({ ...created, data: { v: "stale" } }))
      expect(error.reason).toBe("Conflict")
      expect(error.status).toBe(409)
      expect(error.verb).toBe("update")
      const current = yield* configMaps.get("cm", ns)
      expect(current.data).toEqual({ v: "2" })
      expect(current.metadata.resourceVersion).toBe(winner.metadata.resourceVersion)
    })))

  it.effect("replace with the uid of another object fails with Conflict", () =>
    withCluster(Effect.gen(function*() {
      const configMaps = yield* ConfigMaps
      const created = yield* configMaps.create({ metadata: { name: "cm", namespace: ns } })
      const error = yield* failureOf(
        configMaps.replace({ ...created, metadata: { ...created.metadata, uid: "someone-else" } })
      )
      expect(error.reason).toBe("Conflict")
    })))

  it.effect("get, replace and delete of a missing object fail with NotFound (404)", () =>
    withCluster(Effect.gen(function*() {
      const configMaps = yield* ConfigMaps
      const get = yield* failureOf(configMaps.get("missing", ns))
      const replace = yield* failureOf(configMaps.replace({ metadata: { name: "missing", namespace: ns } }))
      const del = yield* failureOf(configMaps.delete("missing", ns))
      for (const [error, verb] of [[get, "get"], [replace, "update"], [del, "delete"]] as const) {
        expect(error.reason).toBe("NotFound")
        expect(error.status).toBe(404)
        expect(error.verb).toBe(verb)
        expect(error.name).toBe("missing")
      }
      // Another namespace does not count.
      yield* configMaps.create({ metadata: { name: "cm", namespace: "elsewhere" } })
      expect((yield* failureOf(configMaps.get("cm", ns))).reason).toBe("NotFound")
    })))

  it.effect("delete honours the uid and resourceVersion preconditions", () =>
    withCluster(Effect.gen(function*() {
      const configMaps = yield* ConfigMaps
      const created = yield* configMaps.create({ metadata: { name: "cm", namespace: ns } })
      const uid = created.metadata.uid!

      const wrongUid = yield* failureOf(configMaps.delete("cm", ns, { preconditions: { uid: "not-the-uid" } }))
      expect(wrongUid.reason).toBe("Conflict")
      expect(wrongUid.status).toBe(409)
      expect(yield* configMaps.get("cm", ns)).toEqual(created)

      const updated = yield* configMaps.replace({ ...created, data: { x: "y" } })
      const staleVersion = yield* failureOf(
        configMaps.delete("cm", ns, { preconditions: { uid, resourceVersion: created.metadata.resourceVersion } })
      )
      expect(staleVersion.reason).toBe("Conflict")
      expect(yield* configMaps.get("cm", ns)).toEqual(updated)

      yield* configMaps.delete("cm", ns, { preconditions: { uid, resourceVersion: updated.metadata.resourceVersion } })
      expect((yield* failureOf(configMaps.get("cm", ns))).reason).toBe("NotFound")

      // The uid precondition alone is enough too.
      const second = yield* configMaps.create({ metadata: { name: "cm", namespace: ns } })
      const oldUid = yield* failureOf(configMaps.delete("cm", ns, { preconditions: { uid } }))
      expect(oldUid.reason).toBe("Conflict")
      yield* configMaps.delete("cm", ns, { preconditions: { uid: second.metadata.uid } })
      expect((yield* failureOf(configMaps.get("cm", ns))).reason).toBe("NotFound")
    })))

  it.effect("a watch delivers ADDED, MODIFIED and DELETED in order, for its object only", () =>
    withCluster(Effect.gen(function*() {
      const configMaps = yield* ConfigMaps
      const fiber = yield* configMaps.watch("cm", ns).pipe(Stream.take(4), Stream.runCollect, Effect.forkChild)
      yield* settle
      const created = yield* configMaps.create({ metadata: { name: "cm", namespace: ns }, data: { v: "1" } })
      yield* configMaps.create({ metadata: { name: "unrelated", namespace: ns } })
      yield* configMaps.create({ metadata: { name: "cm", namespace: "other-namespace" } })
      const modified = yield* configMaps.replace({ ...created, data: { v: "2" } })
      const modifiedAgain = yield* configMaps.replace({ ...modified, data: { v: "3" } })
      yield* configMaps.delete("cm", ns)
      const events = yield* Fiber.join(fiber)
      expect(events.map((event) => event.type)).toEqual(["ADDED", "MODIFIED", "MODIFIED", "DELETED"])
      expect(events.map((event) => event.object.data?.["v"])).toEqual(["1", "2", "3", "3"])
      expect(events[0]!.object.metadata.resourceVersion).toBe(created.metadata.resourceVersion)
      expect(events[2]!.object.metadata.resourceVersion).toBe(modifiedAgain.metadata.resourceVersion)
      const versions = events.map((event) => Number(event.object.metadata.resourceVersion))
      expect([...versions].sort((a, b) => a - b)).toEqual(versions)
      expect(new Set(versions).size).toBe(4)
    })))

  it.effect("a watch without a resourceVersion starts with the object as it is now", () =>
    withCluster(Effect.gen(function*() {
      const configMaps = yield* ConfigMaps
      const created = yield* configMaps.create({ metadata: { name: "cm", namespace: ns }, data: { v: "1" } })
      const fiber = yield* configMaps.watch("cm", ns).pipe(Stream.take(2), Stream.runCollect, Effect.forkChild)
      yield* settle
      yield* configMaps.replace({ ...created, data: { v: "2" } })
      const events = yield* Fiber.join(fiber)
      expect(events.map((event) => [event.type, event.object.data?.["v"]])).toEqual([["ADDED", "1"], [
        "MODIFIED",
        "2"
      ]])
    })))

  it.effect("a watch from a resourceVersion replays what came after it, then continues live", () =>
    withCluster(Effect.gen(function*() {
      const configMaps = yield* ConfigMaps
      const created = yield* configMaps.create({ metadata: { name: "cm", namespace: ns }, data: { v: "1" } })
      const v2 = yield* configMaps.replace({ ...created, data: { v: "2" } })
      yield* configMaps.create({ metadata: { name: "noise", namespace: ns } })
      yield* configMaps.replace({ ...v2, data: { v: "3" } })
      yield* configMaps.delete("cm", ns)
      const recreated = yield* configMaps.create({ metadata: { name: "cm", namespace: ns }, data: { v: "4" } })

      const replayed = yield* configMaps.watch("cm", ns, { resourceVersion: created.metadata.resourceVersion! }).pipe(
        Stream.take(4),
        Stream.runCollect
      )
      expect(replayed.map((event) => [event.type, event.object.data?.["v"]])).toEqual([
        ["MODIFIED", "2"],
        ["MODIFIED", "3"],
        ["DELETED", "3"],
        ["ADDED", "4"]
      ])

      // From the latest version: nothing is replayed, later changes arrive.
      const fiber = yield* configMaps.watch("cm", ns, { resourceVersion: recreated.metadata.resourceVersion! }).pipe(
        Stream.take(1),
        Stream.runCollect,
        Effect.forkChild
      )
      yield* settle
      yield* configMaps.replace({ ...recreated, data: { v: "5" } })
      const live = yield* Fiber.join(fiber)
      expect(live.map((event) => [event.type, event.object.data?.["v"]])).toEqual([["MODIFIED", "5"]])
    })))

  it.effect("a watch from a resourceVersion older than the history fails like the API server (410 Gone)", () =>
    withCluster(Effect.gen(function*() {
      const configMaps = yield* ConfigMaps
      let current = yield* configMaps.create({ metadata: { name: "cm", namespace: ns }, data: { v: "0" } })
      const first = current.metadata.resourceVersion!
      for (let i = 1; i <= 10_001; i++) current = yield* configMaps.replace({ ...current, data: { v: String(i) } })
      const error = yield* Effect.flip(Stream.runCollect(configMaps.watch("cm", ns, { resourceVersion: first })))
      expect(error.status).toBe(410)
      // The same reason as `fromResponse` gives a live client for a 410.
      expect(error.reason).toBe(fromResponse({ verb: "watch", resource: "configmaps" }, 410, undefined).reason)
    })))

  it.effect("deleting a Pod garbage-collects every object it owns, of every kind, and nothing else", () =>
    withCluster(Effect.gen(function*() {
      const pods = yield* Pods
      const configMaps = yield* ConfigMaps
      const leaderLocks = yield* LeaderLocks
      const leases = yield* Leases
      const owner = yield* pods.create({ metadata: { name: "owner", namespace: ns } })
      const other = yield* pods.create({ metadata: { name: "other", namespace: ns } })
      const ref = (
        pod: typeof owner
      ) => [{ apiVersion: "v1", kind: "Pod", name: pod.metadata.name, uid: pod.metadata.uid! }]

      yield* configMaps.create({ metadata: { name: "owned", namespace: ns, ownerReferences: ref(owner) } })
      yield* leaderLocks.create({ metadata: { name: "owned", namespace: ns, ownerReferences: ref(owner) }, spec: {} })
      yield* leases.create({ metadata: { name: "owned", namespace: ns, ownerReferences: ref(owner) } })
      yield* configMaps.create({ metadata: { name: "not-owned", namespace: ns, ownerReferences: ref(other) } })
      yield* leaderLocks.create({ metadata: { name: "not-owned", namespace: ns, ownerReferences: ref(other) } })
      yield* configMaps.create({ metadata: { name: "free", namespace: ns } })

      // A watch on the owned ConfigMap sees it deleted by the garbage collector.
      const watching = yield* configMaps.watch("owned", ns).pipe(Stream.take(2), Stream.runCollect, Effect.forkChild)
      yield* settle

      yield* pods.delete("owner", ns)

      for (
        const error of [
          yield* failureOf(pods.get("owner", ns)),
          yield* failureOf(configMaps.get("owned", ns)),
          yield* failureOf(leaderLocks.get("owned", ns)),
          yield* failureOf(leases.get("owned", ns))
        ]
      ) expect(error.reason).toBe("NotFound")
      yield* configMaps.get("not-owned", ns)
      yield* leaderLocks.get("not-owned", ns)
      yield* configMaps.get("free", ns)
      yield* pods.get("other", ns)
      expect((yield* Fiber.join(watching)).map((event) => event.type)).toEqual([
        "ADDED",
        "DELETED"
      ])

      const cluster = yield* InMemoryCluster
      const names = (yield* cluster.objects).map((object) => `${object.kind}/${object.metadata.name}`).sort()
      expect(names).toEqual(["ConfigMap/free", "ConfigMap/not-owned", "LeaderLock/not-owned", "Pod/other"])
    })))

  it.effect("the garbage collector follows owners by uid: a new Pod with the old name owns nothing", () =>
    withCluster(Effect.gen(function*() {
      const pods = yield* Pods
      const configMaps = yield* ConfigMaps
      const first = yield* pods.create({ metadata: { name: "p", namespace: ns } })
      yield* pods.delete("p", ns)
      const second = yield* pods.create({ metadata: { name: "p", namespace: ns } })
      expect(second.metadata.uid).not.toBe(first.metadata.uid)
      yield* configMaps.create({
        metadata: {
          name: "owned",
          namespace: ns,
          ownerReferences: [{ apiVersion: "v1", kind: "Pod", name: "p", uid: second.metadata.uid! }]
        }
      })
      // An object created for an owner that is already gone is collected at once.
      yield* configMaps.create({
        metadata: {
          name: "orphan",
          namespace: ns,
          ownerReferences: [{ apiVersion: "v1", kind: "Pod", name: "p", uid: first.metadata.uid! }]
        }
      })
      expect((yield* failureOf(configMaps.get("orphan", ns))).reason).toBe("NotFound")
      yield* configMaps.get("owned", ns)
      yield* pods.delete("p", ns)
      expect((yield* failureOf(configMaps.get("owned", ns))).reason).toBe("NotFound")
    })))

  it.effect("Pods get a uid and phase Running unless given a phase", () =>
    withCluster(Effect.gen(function*() {
      const pods = yield* Pods
      const running = yield* pods.create({ metadata: { name: "running", namespace: ns } })
      expect(running.metadata.uid).toBeTypeOf("string")
      expect(running.status?.phase).toBe("Running")
      expect(running.kind).toBe("Pod")
      const failed = yield* pods.create({
        metadata: { name: "evicted", namespace: ns },
        status: { phase: "Failed", reason: "Evicted" }
      })
      expect(failed.status).toEqual({ phase: "Failed", reason: "Evicted" })
      expect((yield* pods.get("evicted", ns)).status?.phase).toBe("Failed")
      const pending = yield* pods.create({ metadata: { name: "pending", namespace: ns }, status: { phase: "Pending" } })
      expect(pending.status?.phase).toBe("Pending")
      // Only Pods get a phase.
      const configMap = yield* (yield* ConfigMaps).create({ metadata: { name: "cm", namespace: ns } })
      expect("status" in configMap).toBe(false)
    })))

  it.effect("unknown fields survive create, replace and get", () =>
    withCluster(Effect.gen(function*() {
      const leases = yield* Leases
      const created = yield* leases.create({
        metadata: { name: "l", namespace: ns, labels: { app: "x" } },
        spec: { holderIdentity: "a", futureField: { nested: [1, 2] } },
        extra: "kept"
      } as Lease)
      const read = yield* leases.get("l", ns)
      expect((read as any).extra).toBe("kept")
      expect((read.spec as any).futureField).toEqual({ nested: [1, 2] })
      const replaced = yield* leases.replace({ ...read, spec: { ...read.spec, holderIdentity: "b" } })
      expect((replaced as any).extra).toBe("kept")
      const after = yield* leases.get("l", ns)
      expect(after.spec?.holderIdentity).toBe("b")
      expect((after.spec as any).futureField).toEqual({ nested: [1, 2] })
      expect((after as any).extra).toBe("kept")
      expect(after.metadata.labels).toEqual({ app: "x" })
      expect(after.metadata.creationTimestamp).toBe(created.metadata.creationTimestamp)
    })))

  it.effect("objects handed out are copies: mutating them does not change the store", () =>
    withCluster(Effect.gen(function*() {
      const configMaps = yield* ConfigMaps
      const created = yield* configMaps.create({ metadata: { name: "cm", namespace: ns }, data: { v: "1" } })
      ;(created.data as Record<string, string>)["v"] = "mutated"
      const read = yield* configMaps.get("cm", ns)
      expect(read.data).toEqual({ v: "1" })
    })))

  it.effect("the interceptor sees every request and can fail it", () =>
    withCluster(Effect.gen(function*() {
      const cluster = yield* InMemoryCluster
      const configMaps = yield* ConfigMaps
      const seen: Array<string> = []
      yield* cluster.setInterceptor((request, proceed) => {
        seen.push(`${request.verb} ${request.resource} ${request.namespace}/${request.name}`)
        return request.verb === "create"
          ? Effect.fail(
            new K8sError({ ...request, reason: "ServerError", status: 500, detail: "injected" })
          )
          : proceed
      })
      const error = yield* failureOf(configMaps.create({ metadata: { name: "cm", namespace: ns } }))
      expect(error.reason).toBe("ServerError")
      expect(error.detail).toBe("injected")
      // The failed create did not happen.
      expect((yield* failureOf(configMaps.get("cm", ns))).reason).toBe("NotFound")
      expect(seen).toEqual([`create configmaps ${ns}/cm`, `get configmaps ${ns}/cm`])

      // A lost response: the request happens, the caller sees an error.
      yield* cluster.setInterceptor((request, proceed) =>
        Effect.andThen(proceed, Effect.fail(new K8sError({ ...request, reason: "Transport", detail: "reset" })))
      )
      expect((yield* failureOf(configMaps.create({ metadata: { name: "cm", namespace: ns } }))).reason).toBe(
        "Transport"
      )
      yield* cluster.setInterceptor(undefined)
      yield* configMaps.get("cm", ns)
    })))

  it.effect("the interceptor can delay a request on the TestClock", () =>
    withCluster(Effect.gen(function*() {
      const cluster = yield* InMemoryCluster
      const configMaps = yield* ConfigMaps
      yield* cluster.setInterceptor((_, proceed) => Effect.delay(proceed, Duration.seconds(5)))
      const fiber = yield* Effect.forkChild(configMaps.create({ metadata: { name: "cm", namespace: ns } }))
      yield* TestClock.adjust("4 seconds")
      expect(fiber.pollUnsafe()).toBeUndefined()
      yield* cluster.setInterceptor(undefined)
      expect(Result.isFailure(yield* Effect.result(configMaps.get("cm", ns)))).toBe(true)
      yield* TestClock.adjust("1 second")
      const created = yield* Fiber.join(fiber)
      expect(created.metadata.name).toBe("cm")
      yield* configMaps.get("cm", ns)
    })))

  it.effect("the interceptor can hang a request, which stays interruptible", () =>
    withCluster(Effect.gen(function*() {
      const cluster = yield* InMemoryCluster
      const configMaps = yield* ConfigMaps
      yield* cluster.setInterceptor(() => Effect.never)
      const fiber = yield* Effect.forkChild(configMaps.get("cm", ns))
      yield* TestClock.adjust("1 hour")
      expect(fiber.pollUnsafe()).toBeUndefined()
      yield* Fiber.interrupt(fiber)
      expect(Exit.hasInterrupts(yield* Fiber.await(fiber))).toBe(true)
    })))

  it.effect("dropWatches ends open watches with a Transport error; new watches work", () =>
    withCluster(Effect.gen(function*() {
      const cluster = yield* InMemoryCluster
      const configMaps = yield* ConfigMaps
      const leaderLocks = yield* LeaderLocks
      const first = yield* Effect.forkChild(Stream.runCollect(configMaps.watch("cm", ns)))
      const second = yield* Effect.forkChild(Stream.runCollect(leaderLocks.watch("lock", ns)))
      yield* settle
      yield* cluster.dropWatches
      for (const fiber of [first, second]) {
        const error = yield* Effect.flip(Fiber.join(fiber as Fiber.Fiber<unknown, K8sError>))
        expect(error).toBeInstanceOf(K8sError)
        expect(error.reason).toBe("Transport")
      }
      const third = yield* configMaps.watch("cm", ns).pipe(Stream.take(1), Stream.runCollect, Effect.forkChild)
      yield* settle
      yield* configMaps.create({ metadata: { name: "cm", namespace: ns } } satisfies ConfigMap)
      expect((yield* Fiber.join(third)).map((event) => event.type)).toEqual(["ADDED"])
    })))

  it.effect("the LeaderLock service stores LeaderLock objects of our API group", () =>
    withCluster(Effect.gen(function*() {
      const created = yield* (yield* LeaderLocks).create({ metadata: { name: "l", namespace: ns } } as LeaderLock)
      expect(created.apiVersion).toBe("effect-k8s-leader.io/v1")
      expect(created.kind).toBe("LeaderLock")
      const error = yield* failureOf((yield* LeaderLocks).create({ metadata: { name: "l", namespace: ns } }))
      expect(error.resource).toBe("leaderlocks.effect-k8s-leader.io")
    })))
})
