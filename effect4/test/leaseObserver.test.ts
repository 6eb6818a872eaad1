/**
 * The Lease observer (src/effect4/internal/lease/observer.ts): which writes wake a wait. A follower receives a renew
 * of its leader every retryPeriod; only a change it can act on (the holder, the record's duration, the Lease object
 * itself) may wake its waits, or every follower runs its acquire loop on every renew.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber, Option, type Scope, Stream } from "effect"
import { TestClock } from "effect/testing"
import { InMemoryCluster } from "../../src/effect4/InMemoryCluster.js"
import { makeObserver, type Observer } from "../../src/effect4/internal/lease/observer.js"
import { validate } from "../../src/effect4/internal/lease/settings.js"
import { Leases } from "../../src/effect4/Leases.js"
import type { Lease } from "../../src/effect4/resources.js"

const ns = "ops"
const name = "observed"

const microTime = (ms: number) => new Date(ms).toISOString().replace(/Z$/, "000Z")

/** Lets the other fibers run (the watch delivers what was written); the clock does not move. */
const yields = (n: number) => Effect.repeat(Effect.yieldNow, { times: n })

const setup = Effect.gen(function*() {
  const leases = yield* Leases
  const settings = yield* Effect.fromResult(validate({}, "observer"))
  const created = yield* leases.create({
    metadata: { name, namespace: ns },
    spec: {
      holderIdentity: "leader",
      leaseDurationSeconds: 15,
      acquireTime: microTime(0),
      renewTime: microTime(0),
      leaseTransitions: 0
    }
  })
  const observer = yield* makeObserver(leases, name, ns, settings)
  let lease = created
  /** A write as another process makes it, changing the spec fields given. */
  const write = (spec: Partial<NonNullable<Lease["spec"]>>) =>
    Effect.gen(function*() {
      lease = yield* leases.replace({ ...lease, spec: { ...lease.spec, ...spec } })
      // Let the watch deliver it.
      yield* yields(50)
    })
  return { leases, observer, write, remove: () => leases.delete(name, ns) }
})

/** Whether `nextChange` from the state before `change` completed after it. */
const wakes = (observer: Observer, change: Effect.Effect<unknown, unknown>) =>
  Effect.gen(function*() {
    const before = yield* observer.get
    // Started at once: it waits from `before`, as the Effect 3 test's fork did.
    const waiting = yield* Effect.forkChild(observer.nextChange(before), { startImmediately: true })
    yield* change
    const woken = waiting.pollUnsafe() !== undefined
    yield* Fiber.interrupt(waiting)
    return woken
  })

const test = (
  title: string,
  body: () => Effect.Effect<void, unknown, Leases | InMemoryCluster | Scope.Scope>
) => it.effect(title, () => Effect.provide(body(), InMemoryCluster.layer))

describe("Lease observer", () => {
  test("a renew by the same holder updates the view but wakes no wait", () =>
    Effect.gen(function*() {
      const { observer, write } = yield* setup
      yield* TestClock.adjust("2 seconds")
      const before = yield* observer.get
      const woken = yield* wakes(observer, write({ renewTime: microTime(2_000) }))
      const after = yield* observer.get
      expect(woken).toBe(false)
      // The expiry still moves: a follower acts on it when its timer fires.
      expect(after.observedAt).toBe(before.observedAt + 2_000)
      expect(after.heldUntil).toBe(after.observedAt + 15_000)
      expect(after.version).toBe(before.version)
    }))

  test("a foreign write of acquireTime or leaseTransitions by the same holder wakes no wait", () =>
    Effect.gen(function*() {
      const { observer, write } = yield* setup
      expect(yield* wakes(observer, write({ acquireTime: microTime(1), leaseTransitions: 3 }))).toBe(false)
    }))

  test("a change of holder, a release, a shorter duration and a deletion each wake the waits", () =>
    Effect.gen(function*() {
      const { observer, remove, write } = yield* setup
      expect(yield* wakes(observer, write({ holderIdentity: "other" }))).toBe(true)
      expect(yield* wakes(observer, write({ leaseDurationSeconds: 5 }))).toBe(true)
      expect(yield* wakes(observer, write({ holderIdentity: "" }))).toBe(true)
      expect(yield* wakes(observer, write({ holderIdentity: "third" }))).toBe(true)
      expect(yield* wakes(observer, Effect.andThen(remove(), yields(50)))).toBe(true)
    }))

  test("a change already seen before the wait started completes it at once", () =>
    Effect.gen(function*() {
      const { observer, write } = yield* setup
      const before = yield* observer.get
      yield* write({ holderIdentity: "other" })
      const waited = yield* observer.nextChange(before).pipe(Effect.timeout("1 second"), Effect.option)
      expect(Option.isSome(waited)).toBe(true)
    }))

  test("holders emits the holder once known, then each change of it, not each renew", () =>
    Effect.gen(function*() {
      const { observer, write } = yield* setup
      const collected = yield* observer.holders.pipe(Stream.take(4), Stream.runCollect, Effect.forkChild)
      yield* yields(20)
      yield* write({ renewTime: microTime(2_000) })
      yield* write({ renewTime: microTime(4_000) })
      yield* write({ holderIdentity: "" })
      yield* write({ renewTime: microTime(5_000) })
      yield* write({ holderIdentity: "other" })
      yield* write({ renewTime: microTime(6_000) })
      yield* write({ holderIdentity: "leader" })
      expect(yield* Fiber.join(collected)).toEqual(["leader", "", "other", "leader"])
    }))
})
