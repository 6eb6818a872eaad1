/**
 * The Lease lock (issue 3), on the in-memory API server under the TestClock (the Effect 4 edition). Each candidate gets its own `Leases`
 * service wrapping the shared one, with its own request log and interceptor, so a test can crash, slow down or
 * count the requests of one candidate while the others talk to the same API server.
 */
import { describe, expect, it } from "@effect/vitest"
import {
  Cause,
  Clock,
  Context,
  Deferred,
  Duration,
  Effect,
  Exit,
  Fiber,
  Layer,
  Metric,
  Option,
  Ref,
  Result,
  Scope,
  Stream
} from "effect"
import { TestClock } from "effect/testing"
import {
  ContextInfo,
  InMemoryCluster,
  type Interceptor,
  K8sError,
  type K8sVerb,
  LeaderElection,
  LeaderElectionConfigError,
  type Lease,
  type LeaseLockOptions,
  Leases,
  type ResourceService
} from "../../src/effect4/index.js"
import { leaderStatus, slowPath } from "../../src/effect4/internal/metrics.js"
import fixture from "../../test/fixtures/client-go-lease.json" with { type: "json" }

const ns = "ops"
const lockName = "my-lease"
const resource = "leases.coordination.k8s.io"
/**
 * The TestClock starts at the epoch (1970) and the tests stay within hours of it, as the Effect 3 edition's do (whose
 * TestClock derives nanoseconds from milliseconds in floating point, exact only below 2^53 ns): the election's
 * monotonic clock (whole milliseconds of `Clock.monotonicTimeNanos`) and the wall clock then agree.
 */
const T0 = 0
const microTime = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/

type Env = InMemoryCluster | Leases

const test = (name: string, body: () => Effect.Effect<void, unknown, Env | Scope.Scope>) =>
  it.effect(name, () => Effect.provide(body(), InMemoryCluster.layer))

/** Milliseconds since the test started. */
const now = Clock.currentTimeMillis

const adjust = (millis: number) => TestClock.adjust(Duration.millis(millis))

const yields = (n: number) => Effect.repeat(Effect.yieldNow, { times: n - 1 })
/** Lets every fiber run; the clock does not move. */
const settle = yields(300)

/**
 * Moves the clock by `millis` in steps, letting the fibers react between steps. Effect 3's `TestClock.adjust` first
 * waited for every fiber to suspend; Effect 4's yields once: the fibers forked just before (a candidate entering the
 * election) are let run first, so that they start at the same instant as on Effect 3.
 */
const advance = (millis: number, step = 100) =>
  Effect.gen(function*() {
    yield* settle
    let remaining = millis
    while (remaining > 0) {
      const by = Math.min(step, remaining)
      yield* adjust(by)
      yield* yields(20)
      remaining -= by
    }
    yield* settle
  })

/** Moves the clock to `at` milliseconds since the start of the test. */
const advanceTo = (at: number, step = 100) => Effect.flatMap(now, (current) => advance(at - current, step))

/** Yields until `done` holds, without touching the clock; fails the test when it never does. */
const eventually = <R>(what: string, done: Effect.Effect<boolean, never, R>, maxYields = 5000) =>
  Effect.gen(function*() {
    for (let i = 0; i < maxYields; i++) {
      if (yield* done) return
      yield* Effect.yieldNow
    }
    return yield* Effect.die(new Error(`never happened (the clock did not move): ${what}`))
  })

const currentLease = Effect.flatMap(Leases, (leases) => leases.get(lockName, ns))

const spec = (lease: Lease) => lease.spec ?? {}

const k8sError = (verb: K8sVerb, reason: K8sError["reason"], status: number, detail: string) =>
  new K8sError({ verb, resource, namespace: ns, name: lockName, reason, status, detail })

/** Whether the fiber has ended (Effect 3's `Fiber.poll`). */
const isDone = <A, E>(fiber: Fiber.Fiber<A, E>) => Effect.sync(() => fiber.pollUnsafe() !== undefined)

interface Sent {
  readonly verb: K8sVerb
  readonly at: number
}

/**
 * One candidate: the election service of the replica `identity`, over its own view of the shared `Leases`: every
 * request it sends is logged (`sent`, and `succeeded` with the time the request started) and goes through its own
 * interceptor. The watch is logged but not intercepted.
 */
const candidate = (identity: string, options?: LeaseLockOptions, lock = lockName) =>
  Effect.gen(function*() {
    const shared = yield* Leases
    const interceptor = yield* Ref.make<Interceptor | undefined>(undefined)
    const watchFailure = yield* Ref.make<K8sError | undefined>(undefined)
    const closed = yield* Deferred.make<void>()
    // When the test ends its scope closes first, then its forked fibers are interrupted: let their release
    // requests through, or a hung interceptor would wait for a TestClock that no longer moves. A request already held
    // by the interceptor is aborted then: Effect 3 interrupted it along with its fiber, while Effect 4 lets a release
    // (in a finalizer) run to its requestTimeout, which the frozen clock never reaches.
    yield* Effect.addFinalizer(() =>
      Effect.andThen(Ref.set(interceptor, undefined), Deferred.succeed(closed, undefined))
    )
    const sent: Array<Sent> = []
    const succeeded: Array<Sent> = []
    const through = <A>(verb: K8sVerb, name: string, namespace: string, proceed: Effect.Effect<A, K8sError>) =>
      Effect.gen(function*() {
        const at = yield* now
        sent.push({ verb, at })
        const intercept = yield* Ref.get(interceptor)
        const result = yield* intercept === undefined
          ? proceed
          : Effect.raceFirst(
            intercept({ verb, resource, namespace, name }, proceed),
            Effect.andThen(Deferred.await(closed), Effect.fail(k8sError(verb, "Transport", 0, "the test ended")))
          )
        succeeded.push({ verb, at })
        return result
      })
    const own: ResourceService<Lease> = {
      get: (name, namespace) => through("get", name, namespace, shared.get(name, namespace)),
      create: (lease) => through("create", lease.metadata.name, lease.metadata.namespace, shared.create(lease)),
      replace: (lease) => through("update", lease.metadata.name, lease.metadata.namespace, shared.replace(lease)),
      delete: (name, namespace, options) => through("delete", name, namespace, shared.delete(name, namespace, options)),
      watch: (name, namespace, options) =>
        Stream.unwrap(Effect.map(Ref.get(watchFailure), (failure) => {
          sent.push({ verb: "watch", at: -1 })
          return failure === undefined ? shared.watch(name, namespace, options) : Stream.fail(failure)
        }))
    }
    // Built in the test's scope: the layer's resources (its watch of the Lease) live as long as the candidate.
    const election = yield* Layer.build(
      LeaderElection.leaseLock(lock, options).pipe(
        Layer.provide(Layer.succeed(Leases, own)),
        Layer.provide(ContextInfo.test({ namespace: ns, podName: identity }))
      )
    ).pipe(Effect.map(Context.get(LeaderElection)))
    const count = (verb: K8sVerb, from: number = Number.NEGATIVE_INFINITY) =>
      sent.filter((request) => request.verb === verb && request.at >= from).length
    return {
      identity,
      election,
      sent,
      succeeded,
      count,
      /** Starts (or with `undefined` stops) intercepting this candidate's requests. */
      intercept: (value: Interceptor | undefined) => Ref.set(interceptor, value),
      /** Makes (or with `undefined` stops making) every new watch of this candidate fail as soon as it connects. */
      failWatches: (error: K8sError | undefined) => Ref.set(watchFailure, error),
      /** The start time of this candidate's last successful update. */
      lastWrite: () => succeeded.filter((request) => request.verb === "update" || request.verb === "create").at(-1)?.at
    }
  })

type Candidate = Effect.Success<ReturnType<typeof candidate>>

/**
 * Forks `runAsLeader` of the candidate with an effect that records when it started and when it was interrupted,
 * and runs until `stop` completes (or for `holdFor` milliseconds of clock time).
 */
const forkLeader = (c: Candidate, holdFor?: number) =>
  Effect.gen(function*() {
    const started = yield* Deferred.make<number>()
    const interrupted = yield* Deferred.make<number>()
    const stop = yield* Deferred.make<void>()
    const fiber = yield* c.election.runAsLeader(
      Effect.gen(function*() {
        yield* Deferred.succeed(started, yield* now)
        yield* holdFor === undefined ? Deferred.await(stop) : Effect.sleep(holdFor)
        return c.identity
      }).pipe(Effect.onInterrupt(() => Effect.flatMap(now, (at) => Deferred.succeed(interrupted, at))))
    ).pipe(Effect.forkChild)
    const poll = <A>(deferred: Deferred.Deferred<A>) => Effect.map(Deferred.poll(deferred), Option.isSome)
    return {
      fiber,
      started,
      interrupted,
      stop: Deferred.succeed(stop, undefined),
      leads: Effect.zipWith(poll(started), poll(interrupted), (s, i) => s && !i),
      startedAt: Deferred.await(started),
      interruptedAt: Deferred.await(interrupted),
      wasInterrupted: poll(interrupted),
      isDone: isDone(fiber)
    }
  })

/** Writes the Lease as another writer would: replaces the spec fields given, keeps the rest. */
const writeLease = (fields: NonNullable<Lease["spec"]>, metadata?: Partial<Lease["metadata"]>) =>
  Effect.gen(function*() {
    const leases = yield* Leases
    const current = yield* leases.get(lockName, ns)
    return yield* leases.replace({
      ...current,
      metadata: { ...current.metadata, ...metadata },
      spec: { ...current.spec, ...fields }
    })
  })

const createLease = (fields: Lease["spec"]) =>
  Effect.flatMap(Leases, (leases) => leases.create({ metadata: { name: lockName, namespace: ns }, spec: fields }))

const hang: Interceptor = () => Effect.never
const failWith = (reason: K8sError["reason"], status: number): Interceptor => (request) =>
  Effect.fail(k8sError(request.verb, reason, status, `injected ${reason}`))

const masterStatus = (lock: string) => Metric.value(Metric.withAttributes(leaderStatus, { name: lock }))
const slowPathCount = (lock: string) => Metric.value(Metric.withAttributes(slowPath, { name: lock }))

describe("Lease lock", () => {
  describe("election", () => {
    test("simultaneous start of 4 candidates: exactly one leads at any time, and each leads in turn", () =>
      Effect.gen(function*() {
        const concurrent = yield* Ref.make(0)
        const maxSeen = yield* Ref.make(0)
        const leadersSeen = yield* Ref.make<ReadonlyArray<string>>([])
        const candidates = yield* Effect.forEach(["a", "b", "c", "d"], (identity) => candidate(identity))
        const fibers = yield* Effect.forEach(candidates, (c) =>
          c.election.runAsLeader(
            Effect.gen(function*() {
              const n = yield* Ref.updateAndGet(concurrent, (n) => n + 1)
              yield* Ref.update(maxSeen, (max) => Math.max(max, n))
              yield* Ref.update(leadersSeen, (seen) => [...seen, c.identity])
              yield* Effect.sleep("5 seconds")
              yield* Ref.update(concurrent, (n) => n - 1)
              return c.identity
            })
          ).pipe(Effect.forkChild))
        yield* settle
        expect(yield* Ref.get(concurrent)).toBe(1)
        expect((yield* Ref.get(leadersSeen)).length).toBe(1)
        yield* advance(4_900)
        expect(yield* Ref.get(leadersSeen)).toHaveLength(1)
        // Each leader holds for 5 s and releases; the next takes over on the watch event.
        yield* advance(15_200)
        const results = yield* Effect.forEach(fibers, Fiber.join)
        expect(results).toEqual(["a", "b", "c", "d"].map(Option.some))
        expect(yield* Ref.get(maxSeen)).toBe(1)
        expect([...(yield* Ref.get(leadersSeen))].sort()).toEqual(["a", "b", "c", "d"])
        // One create, then three changes of holder.
        expect(spec(yield* currentLease).leaseTransitions).toBe(3)
      }))

    test("graceful release: the follower leads on the watch event, with no clock advance", () =>
      Effect.gen(function*() {
        const a = yield* forkLeader(yield* candidate("a"))
        yield* eventually("a leads", a.leads)
        const b = yield* forkLeader(yield* candidate("b"))
        yield* advance(7_000)
        expect(yield* b.leads).toBe(false)
        const releasedAt = yield* now
        yield* a.stop
        expect(yield* Fiber.join(a.fiber)).toEqual(Option.some("a"))
        yield* eventually("b leads", Effect.map(Deferred.poll(b.started), Option.isSome))
        expect(yield* b.startedAt).toBe(releasedAt)
        expect(yield* now).toBe(releasedAt)
        const lease = yield* currentLease
        expect(spec(lease).holderIdentity).toBe("b")
        expect(spec(lease).leaseTransitions).toBe(1)
      }))

    test("crash: the follower takes over at the observed expiry and not a millisecond before", () =>
      Effect.gen(function*() {
        const ca = yield* candidate("a")
        const a = yield* forkLeader(ca)
        yield* eventually("a leads", a.leads)
        const b = yield* forkLeader(yield* candidate("b"))
        yield* advance(5_000)
        // a crashes: none of its requests is answered any more, and it does not release.
        yield* ca.intercept(hang)
        const lastRenew = ca.lastWrite()!
        expect(lastRenew).toBeGreaterThanOrEqual(2_000)
        // b saw the record change when a last renewed: it expires 15 s later on b's clock.
        const expiry = lastRenew + 15_000
        yield* advanceTo(expiry - 1)
        expect(yield* b.leads).toBe(false)
        // a stopped its work at its own deadline, before anyone could take over.
        expect(yield* a.wasInterrupted).toBe(true)
        expect(yield* a.interruptedAt).toBeLessThanOrEqual(lastRenew + 10_000)
        yield* advance(1)
        expect(yield* b.leads).toBe(true)
        expect(yield* b.startedAt).toBe(expiry)
        expect(yield* Fiber.join(a.fiber)).toEqual(Option.none())
        const lease = yield* currentLease
        expect(spec(lease).holderIdentity).toBe("b")
        expect(spec(lease).leaseTransitions).toBe(1)
      }))

    test("a follower that starts later counts the lease duration from when it first saw the record", () =>
      Effect.gen(function*() {
        const ca = yield* candidate("a")
        const a = yield* forkLeader(ca)
        yield* eventually("a leads", a.leads)
        yield* ca.intercept(hang)
        yield* advance(3_000)
        // a's last write was at 0; b only sees the record at 3 s.
        const b = yield* forkLeader(yield* candidate("b"))
        yield* advanceTo(17_999)
        expect(yield* b.leads).toBe(false)
        yield* advance(1)
        expect(yield* b.leads).toBe(true)
        expect(yield* b.startedAt).toBe(18_000)
      }))

    test("a lease stolen by another writer interrupts the effect at once; runAsLeader returns None", () =>
      Effect.gen(function*() {
        const a = yield* forkLeader(yield* candidate("a"))
        yield* eventually("a leads", a.leads)
        yield* advance(3_000)
        const stolenAt = yield* now
        yield* writeLease({ holderIdentity: "thief", leaseTransitions: 1, renewTime: "2026-11-27T10:00:03.000000Z" })
        yield* eventually("a's effect is interrupted", a.wasInterrupted)
        expect(yield* a.interruptedAt).toBe(stolenAt)
        expect(yield* Fiber.join(a.fiber)).toEqual(Option.none())
        // a does not release a Lease that is not its own.
        expect(spec(yield* currentLease).holderIdentity).toBe("thief")
      }))

    test("a theft stops the leader at once, even while a renew of its is stuck and cannot be interrupted", () =>
      Effect.gen(function*() {
        const ca = yield* candidate("a")
        const a = yield* forkLeader(ca)
        yield* eventually("a leads", a.leads)
        // From now on a's renews hang for 5 s, uninterruptibly (a request the client cannot abort at once).
        yield* ca.intercept((request, proceed) =>
          request.verb === "update"
            ? Effect.andThen(Effect.uninterruptible(Effect.sleep("5 seconds")), proceed)
            : proceed
        )
        yield* advance(3_000)
        const stolenAt = yield* now
        yield* writeLease({ holderIdentity: "thief", leaseTransitions: 1 })
        yield* eventually("a's effect is interrupted", a.wasInterrupted)
        // Not when the stuck renew ends: the loss does not wait for the watch for loss to be torn down.
        expect(yield* a.interruptedAt).toBe(stolenAt)
        yield* ca.intercept(undefined)
        yield* advance(5_000)
        expect(yield* Fiber.join(a.fiber)).toEqual(Option.none())
        expect(spec(yield* currentLease).holderIdentity).toBe("thief")
      }))

    test("a stolen lease completes Leadership.lost", () =>
      Effect.gen(function*() {
        const ca = yield* candidate("a")
        const scope = yield* Scope.make()
        const leadership = yield* Scope.provide(ca.election.leadership, scope)
        expect(leadership.identity).toBe("a")
        expect(leadership.lock).toBe(lockName)
        const lost = yield* Effect.forkChild(leadership.lost)
        yield* advance(2_500)
        expect(!(yield* isDone(lost))).toBe(true)
        yield* writeLease({ holderIdentity: "thief", leaseTransitions: 1 })
        yield* eventually("lost completes", isDone(lost))
        yield* Scope.close(scope, Exit.void)
        expect(spec(yield* currentLease).holderIdentity).toBe("thief")
      }))

    test("re-election after loss with repeat while None: leads again when the thief's lease expires", () =>
      Effect.gen(function*() {
        const ca = yield* candidate("a")
        const terms = yield* Ref.make<ReadonlyArray<number>>([])
        const fiber = yield* ca.election.leadership.pipe(
          Effect.flatMap((leadership) =>
            Effect.andThen(
              Ref.update(terms, (all) => [...all, leadership.term]),
              Effect.raceFirst(Effect.as(Effect.never, Option.some("done")), Effect.as(leadership.lost, Option.none()))
            )
          ),
          Effect.scoped,
          Effect.repeat({ while: Option.isNone }),
          Effect.forkChild
        )
        // The same thing through the public API.
        const cb = yield* candidate("b", undefined, "other-lock")
        const runs = yield* Ref.make(0)
        const viaRunAsLeader = yield* cb.election.runAsLeader(
          Effect.andThen(Ref.update(runs, (n) => n + 1), Effect.never)
        )
          .pipe(Effect.repeat({ while: Option.isNone }), Effect.forkChild)
        yield* eventually("a leads", Effect.map(Ref.get(terms), (all) => all.length === 1))
        yield* eventually("b leads", Effect.map(Ref.get(runs), (n) => n === 1))
        yield* advance(2_500)
        yield* writeLease({ holderIdentity: "thief", leaseTransitions: 1 })
        const stolenAt = yield* now
        const leases = yield* Leases
        const other = yield* leases.get("other-lock", ns)
        yield* leases.replace({ ...other, spec: { ...other.spec, holderIdentity: "thief", leaseTransitions: 1 } })
        yield* advanceTo(stolenAt + 14_999)
        expect(yield* Ref.get(terms)).toHaveLength(1)
        expect(yield* Ref.get(runs)).toBe(1)
        yield* advance(1)
        const [first, second] = yield* Ref.get(terms)
        expect(second).toBeGreaterThan(first!)
        expect(second).toBe(Number((yield* currentLease).metadata.resourceVersion))
        expect(yield* Ref.get(runs)).toBe(2)
        expect(spec(yield* currentLease).holderIdentity).toBe("a")
        expect(!(yield* isDone(fiber))).toBe(true)
        expect(!(yield* isDone(viaRunAsLeader))).toBe(true)
        yield* Fiber.interrupt(fiber)
        yield* Fiber.interrupt(viaRunAsLeader)
      }))

    test("re-election after loss: leads again at once when the thief releases", () =>
      Effect.gen(function*() {
        const ca = yield* candidate("a")
        const runs = yield* Ref.make(0)
        const fiber = yield* ca.election.runAsLeader(Effect.andThen(Ref.update(runs, (n) => n + 1), Effect.never))
          .pipe(Effect.repeat({ while: Option.isNone }), Effect.forkChild)
        yield* eventually("a leads", Effect.map(Ref.get(runs), (n) => n === 1))
        yield* writeLease({ holderIdentity: "thief", leaseTransitions: 1 })
        yield* advance(4_000)
        expect(yield* Ref.get(runs)).toBe(1)
        const releasedAt = yield* now
        yield* writeLease({ holderIdentity: "", leaseDurationSeconds: 1 })
        yield* eventually("a leads again", Effect.map(Ref.get(runs), (n) => n === 2))
        expect(yield* now).toBe(releasedAt)
        yield* Fiber.interrupt(fiber)
      }))
  })

  describe("renewing", () => {
    test("renews every retryPeriod, jittered in [retryPeriod, 1.2 x retryPeriod)", () =>
      Effect.gen(function*() {
        const ca = yield* candidate("a")
        const a = yield* forkLeader(ca)
        yield* eventually("a leads", a.leads)
        yield* advance(30_000, 50)
        const writes = ca.succeeded.filter((request) => request.verb === "update" || request.verb === "create")
        expect(writes[0]).toEqual({ verb: "create", at: 0 })
        expect(writes.length).toBeGreaterThanOrEqual(Math.floor(30_000 / 2_400))
        for (let i = 1; i < writes.length; i++) {
          const gap = writes[i]!.at - writes[i - 1]!.at
          expect(gap).toBeGreaterThanOrEqual(2_000)
          // Sleeps are whole milliseconds, rounded up (internal/time.ts): 1.2 x 2000 ms - ε sleeps 2400 ms.
          expect(gap).toBeLessThanOrEqual(2_400)
        }
        expect(yield* a.leads).toBe(true)
      }))

    test("renew errors: the effect is interrupted renewDeadline after the start of the last successful renew", () =>
      Effect.gen(function*() {
        const ca = yield* candidate("a")
        const a = yield* forkLeader(ca)
        yield* eventually("a leads", a.leads)
        yield* advance(5_000)
        yield* ca.intercept(failWith("ServerError", 500))
        const lastSuccess = ca.lastWrite()!
        expect(lastSuccess).toBeGreaterThanOrEqual(2_000)
        const deadline = lastSuccess + 10_000
        yield* advanceTo(deadline - 1)
        expect(yield* a.wasInterrupted).toBe(false)
        // It kept trying meanwhile: at least three more renew attempts, each a failed update and a failed GET.
        expect(ca.count("update", lastSuccess + 1)).toBeGreaterThanOrEqual(3)
        yield* advance(1)
        expect(yield* a.wasInterrupted).toBe(true)
        const interruptedAt = yield* a.interruptedAt
        expect(interruptedAt).toBeLessThanOrEqual(lastSuccess + 10_000)
        expect(interruptedAt).toBeGreaterThanOrEqual(lastSuccess + 10_000 - 1)
        expect(yield* Fiber.join(a.fiber)).toEqual(Option.none())
      }))

    test("renew errors: the deadline holds even when every renew request hangs", () =>
      Effect.gen(function*() {
        const ca = yield* candidate("a", { requestTimeout: "8 seconds" })
        const a = yield* forkLeader(ca)
        yield* eventually("a leads", a.leads)
        yield* advance(3_000)
        yield* ca.intercept(hang)
        const deadline = ca.lastWrite()! + 10_000
        yield* advanceTo(deadline - 1)
        expect(yield* a.wasInterrupted).toBe(false)
        yield* advance(1)
        expect(yield* a.wasInterrupted).toBe(true)
        expect(yield* a.interruptedAt).toBe(deadline)
      }))

    test("a hung renew request is aborted at requestTimeout", () =>
      Effect.gen(function*() {
        const ca = yield* candidate("a", { requestTimeout: "3 seconds" })
        const a = yield* forkLeader(ca)
        yield* eventually("a leads", a.leads)
        const started: Array<number> = []
        const aborted: Array<number> = []
        yield* ca.intercept((request, proceed) =>
          request.verb !== "update" ? proceed : Effect.flatMap(now, (at) => {
            started.push(at)
            return Effect.never.pipe(Effect.onInterrupt(() => Effect.map(now, (at) => aborted.push(at))))
          })
        )
        yield* advance(2_400)
        expect(started).toHaveLength(1)
        const hungAt = started[0]!
        yield* advanceTo(hungAt + 2_999, 50)
        expect(aborted).toEqual([])
        yield* advance(1)
        expect(aborted).toEqual([hungAt + 3_000])
      }))

    test("a hung release is aborted at requestTimeout: runAsLeader still returns", () =>
      Effect.gen(function*() {
        const ca = yield* candidate("a", { requestTimeout: "4 seconds" })
        const a = yield* forkLeader(ca)
        yield* eventually("a leads", a.leads)
        yield* advance(1_000)
        const aborted: Array<number> = []
        yield* ca.intercept((request, proceed) =>
          request.verb !== "update"
            ? proceed
            : Effect.never.pipe(Effect.onInterrupt(() => Effect.map(now, (at) => aborted.push(at))))
        )
        // The release runs in a finalizer (uninterruptible), yet its request must still be bounded.
        yield* a.stop
        yield* advanceTo(4_999)
        expect(yield* a.isDone).toBe(false)
        yield* advance(1)
        expect(aborted).toEqual([5_000])
        expect(yield* Fiber.join(a.fiber)).toEqual(Option.some("a"))
        expect(spec(yield* currentLease).holderIdentity).toBe("a")
      }))

    test("no renew once the release has begun, though the watch for loss is interrupted only after it", () =>
      Effect.gen(function*() {
        const ca = yield* candidate("a", {
          leaseDuration: "4 seconds",
          renewDeadline: "3 seconds",
          retryPeriod: "1 second"
        })
        const a = yield* forkLeader(ca)
        yield* eventually("a leads", a.leads)
        yield* advance(100)
        // The release is held for 1 s (its requestTimeout is 1.5 s): the renew loop, not yet interrupted, is due
        // meanwhile (1 s after the acquisition, jittered by up to 1.2).
        let releasing = false
        const writesAfterRelease: Array<number> = []
        yield* ca.intercept((request, proceed) =>
          request.verb !== "update" || !releasing
            ? proceed
            : Effect.flatMap(now, (at) => {
              writesAfterRelease.push(at)
              return writesAfterRelease.length === 1 ? Effect.andThen(Effect.sleep("1 second"), proceed) : proceed
            })
        )
        releasing = true
        yield* a.stop
        yield* advance(4_000)
        expect(yield* Fiber.join(a.fiber)).toEqual(Option.some("a"))
        // One write after the release began: the release itself, not a renew.
        expect(writesAfterRelease).toEqual([100])
        expect(spec(yield* currentLease).holderIdentity).toBe("")
      }))

    test("fast path: no GET at steady state; a stale cache costs one GET + update, then leading goes on", () =>
      Effect.gen(function*() {
        const lock = "fast-path-lock"
        const ca = yield* candidate("a", undefined, lock)
        const a = yield* forkLeader(ca)
        yield* eventually("a leads", a.leads)
        const slowBefore = (yield* slowPathCount(lock)).count
        // The one GET so far is the watch's initial read.
        expect(ca.count("get")).toBe(1)
        yield* advance(12_000)
        expect(ca.count("get")).toBe(1)
        expect(ca.count("update")).toBeGreaterThanOrEqual(5)
        // Another writer changes a label just before the next renew reaches the server: the renew from the cached
        // Lease gets a Conflict, reads the Lease and updates it.
        const leases = yield* Leases
        let armed = true
        yield* ca.intercept((request, proceed) =>
          request.verb === "update" && armed
            ? Effect.andThen(
              Effect.flatMap(leases.get(lock, ns), (current) =>
                leases.replace({
                  ...current,
                  metadata: { ...current.metadata, labels: { ...current.metadata.labels, team: "platform" } }
                })).pipe(Effect.tap(() => Effect.sync(() => (armed = false))), Effect.orDie),
              proceed
            )
            : proceed
        )
        const before = { get: ca.count("get"), update: ca.count("update") }
        for (let waited = 0; armed && waited < 2_400; waited += 50) yield* advance(50, 50)
        expect(armed).toBe(false)
        expect(ca.count("get") - before.get).toBe(1)
        expect(ca.count("update") - before.update).toBe(2)
        expect((yield* slowPathCount(lock)).count - slowBefore).toBe(1)
        const renewed = yield* leases.get(lock, ns)
        expect(renewed.metadata.labels).toEqual({ team: "platform" })
        expect(spec(renewed).holderIdentity).toBe("a")
        // Back on the fast path.
        const after = { get: ca.count("get"), update: ca.count("update") }
        yield* advance(10_000)
        expect(ca.count("get")).toBe(after.get)
        expect(ca.count("update") - after.update).toBeGreaterThanOrEqual(4)
        expect(yield* a.leads).toBe(true)
      }))
  })

  describe("protocol", () => {
    // Our wall clock reads 1970 (see T0): these renewTimes are 70 years behind it, 30 and 130 years ahead.
    for (
      const [year, renewTime] of [
        ["1900", "1900-01-01T00:00:00.000000Z"],
        ["2000", "2000-01-01T00:00:00.000000Z"],
        ["2100", "2100-01-01T00:00:00.000000Z"]
      ] as const
    ) {
      test(`clock skew: another holder's renewTime in ${year} changes nothing`, () =>
        Effect.gen(function*() {
          yield* advance(1_000)
          yield* createLease({
            holderIdentity: "skewed",
            leaseDurationSeconds: 15,
            acquireTime: renewTime,
            renewTime,
            leaseTransitions: 3
          })
          yield* advance(2_000)
          // b first sees the record at 3 s: it is held until 18 s on b's clock, whatever renewTime says.
          const b = yield* forkLeader(yield* candidate("b"))
          yield* advanceTo(17_999)
          expect(yield* b.leads).toBe(false)
          yield* advance(1)
          expect(yield* b.leads).toBe(true)
          expect(yield* b.startedAt).toBe(18_000)
          expect(spec(yield* currentLease).leaseTransitions).toBe(4)
        }))
    }

    test("a Lease as client-go writes it is read, waited for and taken over; unknown fields survive", () =>
      Effect.gen(function*() {
        const leases = yield* Leases
        const { creationTimestamp: _c, resourceVersion: _r, uid: _u, ...metadata } = fixture.metadata
        yield* leases.create({ ...fixture, metadata } as Lease)
        yield* advance(500)
        const b = yield* forkLeader(yield* candidate("effect-pod-0"))
        yield* advanceTo(500 + 15_000 - 1)
        expect(yield* b.leads).toBe(false)
        yield* advance(1)
        expect(yield* b.leads).toBe(true)
        const lease = yield* currentLease
        const takenAt = new Date(T0 + 15_500).toISOString().replace("Z", "000Z")
        expect(lease.spec).toEqual({
          holderIdentity: "effect-pod-0",
          leaseDurationSeconds: 15,
          acquireTime: takenAt,
          renewTime: takenAt,
          leaseTransitions: 8,
          strategy: "OldestEmulationVersion",
          preferredHolder: "x"
        })
        expect(lease.spec?.acquireTime).toMatch(microTime)
        expect(lease.spec?.renewTime).toMatch(microTime)
        expect(lease.metadata.labels).toEqual(fixture.metadata.labels)
        expect(lease.metadata.annotations).toEqual(fixture.metadata.annotations)
        expect((lease.metadata as { managedFields?: unknown }).managedFields).toEqual(fixture.metadata.managedFields)
        // Its renewals keep them too.
        yield* advance(5_000)
        const renewed = yield* currentLease
        expect(renewed.spec?.renewTime).toMatch(microTime)
        expect(renewed.spec?.renewTime).not.toBe(takenAt)
        expect(renewed.spec?.strategy).toBe("OldestEmulationVersion")
        expect(renewed.spec?.preferredHolder).toBe("x")
        expect(renewed.metadata.labels).toEqual(fixture.metadata.labels)
      }))

    for (
      const [what, fields] of [
        ["an empty holderIdentity", { holderIdentity: "", leaseDurationSeconds: 15, leaseTransitions: 2 }],
        ["a missing holderIdentity", { leaseDurationSeconds: 15, leaseTransitions: 2 }]
      ] as const
    ) {
      test(`${what} is free: acquired at once, with no clock advance`, () =>
        Effect.gen(function*() {
          yield* createLease({ ...fields, renewTime: "2026-11-27T10:00:00.000000Z" })
          const b = yield* forkLeader(yield* candidate("b"))
          yield* eventually("b leads", b.leads)
          expect(yield* now).toBe(0)
          const lease = yield* currentLease
          expect(spec(lease).holderIdentity).toBe("b")
          expect(spec(lease).leaseDurationSeconds).toBe(15)
          expect(spec(lease).leaseTransitions).toBe(3)
        }))
    }

    for (
      const [what, fields] of [
        ["no leaseDurationSeconds", { holderIdentity: "other", leaseTransitions: 2 }],
        ["a shorter leaseDurationSeconds", { holderIdentity: "other", leaseDurationSeconds: 1, leaseTransitions: 2 }]
      ] as const
    ) {
      test(`a held record with ${what} counts our own leaseDuration from when we first saw it`, () =>
        Effect.gen(function*() {
          // Written by someone else after the holder's last renew, perhaps unseen by the holder, which leads on until
          // its own deadline: only the leaseDuration the candidates share is sure to outlast it.
          yield* createLease({ ...fields, renewTime: "2026-11-27T10:00:00.000000Z" })
          const b = yield* forkLeader(yield* candidate("b"))
          yield* advanceTo(15_000 - 100)
          expect(yield* b.leads).toBe(false)
          yield* advanceTo(15_000)
          yield* eventually("b leads", b.leads)
          expect(yield* b.startedAt).toBe(15_000)
          expect(spec(yield* currentLease).leaseTransitions).toBe(3)
        }))
    }

    test("transitions and acquireTime: create, renew, release, takeover; term follows them", () =>
      Effect.gen(function*() {
        const ca = yield* candidate("a")
        const cb = yield* candidate("b")
        const scopeA = yield* Scope.make()
        const leadershipA = yield* Scope.provide(ca.election.leadership, scopeA)
        const created = yield* currentLease
        const at0 = new Date(T0).toISOString().replace("Z", "000Z")
        expect(created.spec).toEqual({
          holderIdentity: "a",
          leaseDurationSeconds: 15,
          acquireTime: at0,
          renewTime: at0,
          leaseTransitions: 0
        })
        // The term is the resourceVersion of the acquiring write.
        expect(leadershipA.term).toBe(Number(created.metadata.resourceVersion))
        // Renewals keep acquireTime and leaseTransitions.
        yield* advance(6_000)
        const renewed = yield* currentLease
        expect(ca.count("update")).toBeGreaterThanOrEqual(2)
        expect(spec(renewed).renewTime).not.toBe(at0)
        expect(spec(renewed).renewTime).toMatch(microTime)
        expect(spec(renewed).acquireTime).toBe(at0)
        expect(spec(renewed).leaseTransitions).toBe(0)
        // b waits; a releases: holder "", leaseDurationSeconds 1, renewTime = acquireTime = now, transitions kept.
        const scopeB = yield* Scope.make()
        const b = yield* Effect.forkChild(Scope.provide(cb.election.leadership, scopeB))
        yield* settle
        expect(!(yield* isDone(b))).toBe(true)
        yield* advance(1_234)
        const releaseAt = new Date(T0 + (yield* now)).toISOString().replace("Z", "000Z")
        // Watch what a's release wrote, before b's takeover replaces it.
        const leases = yield* Leases
        const writes = yield* leases.watch(lockName, ns, { resourceVersion: renewed.metadata.resourceVersion! }).pipe(
          Stream.map((event) => event.object.spec),
          Stream.filter((written) => written?.holderIdentity !== "a"),
          Stream.take(2),
          Stream.runCollect,
          Effect.forkChild
        )
        yield* Scope.close(scopeA, Exit.void)
        const leadershipB = yield* Fiber.join(b)
        expect(yield* Fiber.join(writes)).toEqual([
          {
            holderIdentity: "",
            leaseDurationSeconds: 1,
            acquireTime: releaseAt,
            renewTime: releaseAt,
            leaseTransitions: 0
          },
          {
            holderIdentity: "b",
            leaseDurationSeconds: 15,
            acquireTime: releaseAt,
            renewTime: releaseAt,
            leaseTransitions: 1
          }
        ])
        expect(leadershipB.term).toBeGreaterThan(leadershipA.term)
        expect(leadershipB.term).toBe(Number((yield* currentLease).metadata.resourceVersion))
        // And back to a: the term grows with every handover.
        yield* advance(3_000)
        const scopeA2 = yield* Scope.make()
        const a2 = yield* Effect.forkChild(Scope.provide(ca.election.leadership, scopeA2))
        yield* settle
        yield* Scope.close(scopeB, Exit.void)
        const leadershipA2 = yield* Fiber.join(a2)
        expect(leadershipA2.term).toBeGreaterThan(leadershipB.term)
        const taken = yield* currentLease
        expect(spec(taken).acquireTime).toBe(new Date(T0 + (yield* now)).toISOString().replace("Z", "000Z"))
        yield* Scope.close(scopeA2, Exit.void)
      }))

    test("identity override: options.identity is the holderIdentity, not the Pod name", () =>
      Effect.gen(function*() {
        const ca = yield* candidate("pod-a", { identity: "pod-a_1b2c3d" })
        const leadership = yield* ca.election.leadership
        expect(leadership.identity).toBe("pod-a_1b2c3d")
        expect(spec(yield* currentLease).holderIdentity).toBe("pod-a_1b2c3d")
      }))

    test("leaderChanges emits the current holder, then each change of holder (not each renewal)", () =>
      Effect.gen(function*() {
        const watcher = yield* candidate("watcher")
        const a = yield* forkLeader(yield* candidate("a"))
        yield* eventually("a leads", a.leads)
        const seen: Array<Option.Option<string>> = []
        const changes = yield* watcher.election.leaderChanges.pipe(
          Stream.runForEach((holder) => Effect.sync(() => seen.push(holder))),
          Effect.forkChild
        )
        yield* settle
        expect(seen).toEqual([Option.some("a")])
        const b = yield* forkLeader(yield* candidate("b"))
        yield* advance(8_000)
        expect(seen).toEqual([Option.some("a")])
        yield* a.stop
        yield* eventually("b leads", b.leads)
        yield* settle
        expect(seen).toEqual([Option.some("a"), Option.none(), Option.some("b")])
        yield* Fiber.interrupt(changes)
      }))

    test("after a handover, the new leader's own leaderChanges names it", () =>
      Effect.gen(function*() {
        const a = yield* forkLeader(yield* candidate("a"))
        yield* eventually("a leads", a.leads)
        const next = yield* candidate("b")
        const b = yield* forkLeader(next)
        yield* settle
        yield* a.stop
        yield* eventually("b leads", b.leads)
        yield* settle
        expect(yield* next.election.leaderChanges.pipe(Stream.take(1), Stream.runCollect)).toEqual([Option.some("b")])
      }))

    test("leaderChanges starts with None when there is no Lease", () =>
      Effect.gen(function*() {
        const watcher = yield* candidate("watcher")
        const first = yield* watcher.election.leaderChanges.pipe(Stream.take(2), Stream.runCollect, Effect.forkChild)
        yield* settle
        yield* forkLeader(yield* candidate("a"))
        expect(yield* Fiber.join(first)).toEqual([Option.none(), Option.some("a")])
      }))

    test("one Lease watch per candidate: its election and every leaderChanges subscriber share it; it closes when all leave", () =>
      Effect.gen(function*() {
        const cluster = yield* InMemoryCluster
        const openWatches = Effect.map(
          cluster.openWatches,
          (watches) => watches.filter((watch) => watch.resource === resource && watch.name === lockName).length
        )
        const ca = yield* candidate("a")
        const cb = yield* candidate("b")
        const a = yield* forkLeader(ca)
        yield* eventually("a leads", a.leads)
        const b = yield* forkLeader(cb)
        const seen: Array<Option.Option<string>> = []
        const subscribers = yield* Effect.forEach([1, 2], () =>
          cb.election.leaderChanges.pipe(
            Stream.runForEach((holder) => Effect.sync(() => seen.push(holder))),
            Effect.forkChild
          ))
        yield* advance(5_000)
        // a leads (its watch for loss), b waits and has two subscribers: one watch each, opened once.
        expect(yield* openWatches).toBe(2)
        expect([ca.count("watch"), cb.count("watch")]).toEqual([1, 1])
        expect(seen).toEqual([Option.some("a"), Option.some("a")])
        yield* a.stop
        yield* eventually("b leads", b.leads)
        yield* settle
        // a's service has no user left: its watch is closed. b leads on the watch it waited on.
        expect(yield* openWatches).toBe(1)
        expect(cb.count("watch")).toBe(1)
        expect(seen.filter(Option.isSome).map((holder) => holder.value)).toEqual(["a", "a", "b", "b"])
        yield* Effect.forEach(subscribers, Fiber.interrupt)
        yield* b.stop
        yield* Fiber.join(b.fiber)
        expect(yield* openWatches).toBe(0)
      }))

    test("releaseOnCancel: false leaves the holder in place when the scope closes", () =>
      Effect.gen(function*() {
        const ca = yield* candidate("a", { releaseOnCancel: false })
        yield* advance(1_000)
        expect(yield* ca.election.runAsLeader(Effect.succeed(1))).toEqual(Option.some(1))
        const lease = yield* currentLease
        expect(spec(lease).holderIdentity).toBe("a")
        expect(spec(lease).leaseDurationSeconds).toBe(15)
        expect(ca.count("update")).toBe(0)
        // A follower has to wait for its expiry.
        const b = yield* forkLeader(yield* candidate("b"))
        yield* advanceTo(15_999)
        expect(yield* b.leads).toBe(false)
        yield* advance(1)
        expect(yield* b.leads).toBe(true)
      }))

    test("releaseOnCancel (default): the scope's close clears the holder", () =>
      Effect.gen(function*() {
        const ca = yield* candidate("a")
        expect(yield* ca.election.runAsLeader(Effect.succeed(1))).toEqual(Option.some(1))
        expect(spec(yield* currentLease).holderIdentity).toBe("")
      }))

    for (const verb of ["create", "update"] as const) {
      test(`Forbidden on ${verb}: runAsLeader fails with that K8sError, after one request`, () =>
        Effect.gen(function*() {
          if (verb === "update") yield* createLease({ holderIdentity: "", leaseTransitions: 1 })
          const ca = yield* candidate("a")
          const forbidden = k8sError(verb, "Forbidden", 403, `leases is forbidden: cannot ${verb}`)
          yield* ca.intercept((request, proceed) => request.verb === verb ? Effect.fail(forbidden) : proceed)
          const error = yield* Effect.flip(ca.election.runAsLeader(Effect.succeed(1)))
          // (The error comes back wrapped in a Proxy that carries its span: compare its fields.)
          expect(error._tag).toBe("K8sError")
          expect({ ...(error as K8sError) }).toEqual({ ...forbidden })
          expect(ca.count(verb)).toBe(1)
        }))
    }

    test("a write conflict while reads fail does not spin: the candidate waits before trying again", () =>
      Effect.gen(function*() {
        yield* createLease({ holderIdentity: "", leaseDurationSeconds: 1, leaseTransitions: 1 })
        const ca = yield* candidate("a")
        let reads = 0
        // The watch's first GET goes through; then every update conflicts and every GET fails.
        yield* ca.intercept((request, proceed) =>
          request.verb === "update"
            ? Effect.fail(k8sError("update", "Conflict", 409, "the object has been modified"))
            : request.verb === "get" && reads++ > 0
            ? Effect.fail(k8sError("get", "ServerError", 500, "etcdserver: request timed out"))
            : proceed
        )
        const a = yield* forkLeader(ca)
        yield* settle
        expect(yield* a.leads).toBe(false)
        expect(ca.count("update")).toBeLessThanOrEqual(2)
        // It keeps trying at the pace of retryPeriod (jittered up to 2.2 x), not faster.
        yield* advance(10_000)
        expect(ca.count("update")).toBeLessThanOrEqual(2 + 10_000 / 2_000)
        yield* ca.intercept(undefined)
        yield* advance(4_400)
        expect(yield* a.leads).toBe(true)
      }))

    test("a conflict that persists while reads succeed does not spin: one immediate retry, then retryPeriod", () =>
      Effect.gen(function*() {
        yield* createLease({ holderIdentity: "", leaseDurationSeconds: 1, leaseTransitions: 1 })
        const ca = yield* candidate("a")
        // Every update conflicts (a writer that keeps touching the Lease, say); every read succeeds.
        yield* ca.intercept((request, proceed) =>
          request.verb === "update"
            ? Effect.fail(k8sError("update", "Conflict", 409, "the object has been modified"))
            : proceed
        )
        const a = yield* forkLeader(ca)
        yield* settle
        expect(yield* a.leads).toBe(false)
        // The first try, and one immediate retry after reading the Lease again: then it waits.
        expect(ca.count("update")).toBeLessThanOrEqual(2)
        yield* advance(10_000)
        // At most two updates per wait of at least retryPeriod (2 s): never a hot loop.
        expect(ca.count("update")).toBeLessThanOrEqual(2 + 2 * (10_000 / 2_000))
        yield* ca.intercept(undefined)
        yield* advance(4_400)
        expect(yield* a.leads).toBe(true)
      }))

    test("the effect's own failure passes through unchanged and the lease is released", () =>
      Effect.gen(function*() {
        const ca = yield* candidate("a")
        const error = yield* Effect.flip(ca.election.runAsLeader(Effect.fail("boom" as const)))
        expect(error).toBe("boom")
        expect(spec(yield* currentLease).holderIdentity).toBe("")
      }))

    test("metrics: leader_election_master_status is 1 while leading, 0 after release", () =>
      Effect.gen(function*() {
        const lock = "metrics-lock"
        const ca = yield* candidate("a", undefined, lock)
        const a = yield* forkLeader(ca)
        yield* eventually("a leads", a.leads)
        expect((yield* masterStatus(lock)).value).toBe(1)
        yield* a.stop
        yield* Fiber.join(a.fiber)
        expect((yield* masterStatus(lock)).value).toBe(0)
      }))
  })

  describe("settings", () => {
    const build = (options: LeaseLockOptions, podName = "pod-a") =>
      Layer.build(
        LeaderElection.leaseLock(lockName, options).pipe(
          Layer.provide(ContextInfo.test({ namespace: ns, podName }))
        )
      ).pipe(Effect.result)

    const rules: ReadonlyArray<readonly [string, LeaseLockOptions, string, string?]> = [
      ["leaseDuration > renewDeadline", { leaseDuration: "10 seconds", renewDeadline: "10 seconds" }, ""],
      ["renewDeadline > 1.2 x retryPeriod", { renewDeadline: "2400 millis", retryPeriod: "2 seconds" }, ""],
      ["all durations > 0", { leaseDuration: 0 }, ""],
      ["all durations > 0", { retryPeriod: "0 millis" }, ""],
      ["all durations > 0", { renewDeadline: 0, requestTimeout: "1 second" }, ""],
      ["all durations > 0", { requestTimeout: 0 }, ""],
      ["requestTimeout < renewDeadline", { requestTimeout: "10 seconds" }, ""],
      ["identity is not empty", { identity: "" }, ""],
      ["identity is not empty", {}, "", ""],
      ["leaseDuration is whole seconds", { leaseDuration: "15500 millis" }, ""],
      ["leaseDuration is a duration", { leaseDuration: "fifteen" as unknown as Duration.Input }, "fifteen"],
      [
        "retryPeriod is a duration",
        { retryPeriod: "2 fortnights" as unknown as Duration.Input },
        "2 fortnights"
      ]
    ]
    for (const [rule, options, detail, podName] of rules) {
      test(`${rule}: ${JSON.stringify(options)}${podName === "" ? " with an empty Pod name" : ""}`, () =>
        Effect.gen(function*() {
          const result = yield* build(options, podName)
          expect(Result.isFailure(result)).toBe(true)
          const error = Result.getFailure(result).pipe(Option.getOrThrow)
          expect(error).toBeInstanceOf(LeaderElectionConfigError)
          expect(error.rule).toBe(rule)
          expect(error.message).toContain(rule)
          expect(error.message).toContain(detail)
        }))
    }

    const valid: ReadonlyArray<LeaseLockOptions> = [
      {},
      { leaseDuration: "15 seconds", renewDeadline: "10 seconds", retryPeriod: "2 seconds" },
      { leaseDuration: 11_000, renewDeadline: 10_000, retryPeriod: 8_000, requestTimeout: 9_999 },
      { leaseDuration: "3 seconds", renewDeadline: "2401 millis", retryPeriod: "2 seconds", identity: "x" }
    ]
    for (const options of valid) {
      test(`valid: ${JSON.stringify(options)}`, () =>
        Effect.gen(function*() {
          expect(Result.isSuccess(yield* build(options))).toBe(true)
        }))
    }
  })

  describe("adversarial events (issue 10)", () => {
    test("a defect in a renew ends the leadership at once: the work is interrupted and runAsLeader dies", () =>
      Effect.gen(function*() {
        const ca = yield* candidate("a")
        const a = yield* forkLeader(ca)
        yield* eventually("a leads", a.leads)
        yield* ca.intercept((request, proceed) => request.verb === "update" ? Effect.die("bug in a wrapper") : proceed)
        // The next renew is due within 1.2 x retryPeriod.
        yield* advance(2_400)
        expect(yield* a.wasInterrupted).toBe(true)
        const exit = yield* Fiber.await(a.fiber)
        expect(Exit.isFailure(exit) && Cause.hasDies(exit.cause)).toBe(true)
        expect((yield* ca.election.status).leading).toBe(false)
        expect(yield* masterStatus(lockName)).toEqual(expect.objectContaining({ value: 0 }))
      }))

    test("a Lease deleted while the watch was down, after our own create, is seen gone when it reconnects", () =>
      Effect.gen(function*() {
        const ca = yield* candidate("a")
        // Someone follows leaderChanges, as operators do: the one watch of the Lease outlives each leadership.
        yield* Effect.forkScoped(Stream.runDrain(ca.election.leaderChanges))
        // The watch's first GET finds no Lease, then every watch is refused: reconnections poll with a GET.
        yield* ca.failWatches(k8sError("watch", "ServerError", 429, "throttled by API Priority and Fairness"))
        yield* Effect.flatMap(InMemoryCluster, (cluster) => cluster.dropWatches)
        yield* advance(3_000)
        const first = yield* forkLeader(ca)
        yield* eventually("a leads", first.leads)
        // Created by our own write, deleted by hand: the polls' GETs find no Lease again, as before our create.
        yield* Effect.flatMap(Leases, (leases) => leases.delete(lockName, ns))
        yield* ca.failWatches(undefined)
        yield* advance(6_000)
        expect(yield* first.wasInterrupted).toBe(true)
        // A new leadership creates the Lease anew at its first try, instead of updating one that is gone.
        const updatesBefore = ca.count("update")
        const second = yield* forkLeader(ca)
        yield* eventually("a leads again", second.leads)
        expect(ca.count("update")).toBe(updatesBefore)
        expect(spec(yield* currentLease).holderIdentity).toBe("a")
      }))

    test("a defect in the watch ends the leadership too, not only a defect in a renew", () =>
      Effect.gen(function*() {
        const ca = yield* candidate("a")
        const a = yield* forkLeader(ca)
        yield* eventually("a leads", a.leads)
        // The watch reconnects with a GET: make that GET die, then drop the watch.
        yield* ca.intercept((request, proceed) => request.verb === "get" ? Effect.die("bug in a wrapper") : proceed)
        yield* ca.failWatches(k8sError("watch", "Transport", 0, "connection reset"))
        yield* Effect.flatMap(InMemoryCluster, (cluster) => cluster.dropWatches)
        // The observer reconnects (with its GET) within 2.2 x retryPeriod.
        yield* advance(4_500)
        expect(yield* a.wasInterrupted).toBe(true)
        expect((yield* ca.election.status).leading).toBe(false)
      }))

    test("a foreign leaseDurationSeconds does not outlive the next renew, and shortens the deadline until then", () =>
      Effect.gen(function*() {
        const ca = yield* candidate("a")
        const a = yield* forkLeader(ca)
        yield* eventually("a leads", a.leads)
        const renewsBefore = ca.count("update")
        yield* writeLease({ leaseDurationSeconds: 3 })
        // Answered at once with a renew, with no clock advance.
        yield* eventually("a renewed", Effect.sync(() => ca.count("update") > renewsBefore))
        yield* settle
        expect(spec(yield* currentLease).leaseDurationSeconds).toBe(15)
        yield* advance(10_000)
        expect(yield* a.leads).toBe(true)
        // Cut off: the deadline follows the shortened duration, 3 s x 10/15 = 2 s after the last renew began.
        yield* ca.intercept(hang)
        const cutAt = yield* now
        const lastRenew = ca.lastWrite()!
        yield* writeLease({ leaseDurationSeconds: 3 })
        // A candidate that first sees the record now counts its own 15 s, not the 3 s written over it.
        const b = yield* forkLeader(yield* candidate("b"))
        yield* advanceTo(cutAt + 5_000)
        const stoppedAt = yield* a.interruptedAt
        expect(stoppedAt).toBeLessThanOrEqual(lastRenew + 2_000)
        expect(yield* b.leads).toBe(false)
        yield* advanceTo(cutAt + 15_000)
        yield* eventually("b leads", b.leads)
        expect(yield* b.startedAt).toBe(cutAt + 15_000)
      }))

    test("a Lease deleted while held: the leader stops at once, followers wait out the expiry they counted", () =>
      Effect.gen(function*() {
        const ca = yield* candidate("a")
        const a = yield* forkLeader(ca)
        yield* eventually("a leads", a.leads)
        const b = yield* forkLeader(yield* candidate("b"))
        yield* advance(3_000)
        // A Go leader would re-create the Lease at its next renew and lead on: a follower that took the deletion
        // for a release would lead beside it. So the deletion frees nothing before the expiry.
        yield* ca.intercept(hang)
        const lastRenew = ca.lastWrite()!
        const deletedAt = yield* now
        yield* Effect.flatMap(Leases, (leases) => leases.delete(lockName, ns))
        yield* settle
        expect(yield* a.interruptedAt).toBe(deletedAt)
        yield* advanceTo(lastRenew + 15_000 - 1)
        expect(yield* b.leads).toBe(false)
        yield* advance(100)
        expect(yield* b.startedAt).toBeLessThanOrEqual(lastRenew + 15_000)
        expect(spec(yield* currentLease).holderIdentity).toBe("b")
      }))

    test("a foreign, shorter duration does not shorten the expiry a follower already counted", () =>
      Effect.gen(function*() {
        const ca = yield* candidate("a")
        const a = yield* forkLeader(ca)
        yield* eventually("a leads", a.leads)
        const b = yield* forkLeader(yield* candidate("b"))
        yield* advance(3_000)
        yield* ca.intercept(hang)
        const lastRenew = ca.lastWrite()!
        const writtenAt = yield* now
        yield* writeLease({ leaseDurationSeconds: 1 })
        yield* advance(2_000)
        // The leader stopped on its shortened deadline, 1 s x 10 / 15 after its last renew began (at once, if that
        // had passed when it saw the write). The follower waits for the expiry it counted, a's last renew + 15 s, and
        // more: the foreign write is a change of the record, which a held record counts with at least our 15 s.
        expect(yield* a.interruptedAt).toBe(Math.max(writtenAt, lastRenew + Math.ceil(1_000 * 10 / 15)))
        expect(yield* b.leads).toBe(false)
        yield* advanceTo(writtenAt + 15_000 - 100)
        expect(yield* b.leads).toBe(false)
        yield* advanceTo(writtenAt + 15_000)
        yield* eventually("b leads", b.leads)
        expect(yield* b.startedAt).toBe(writtenAt + 15_000)
      }))

    test("the term strictly grows across the deletion and re-creation of the Lease", () =>
      Effect.gen(function*() {
        const terms: Array<number> = []
        const lead = (identity: string) =>
          Effect.flatMap(candidate(identity), (c) =>
            Effect.scoped(Effect.map(c.election.leadership, (leadership) => {
              terms.push(leadership.term)
            })))
        yield* lead("a")
        const leases = yield* Leases
        yield* leases.delete(lockName, ns)
        yield* lead("b")
        yield* leases.delete(lockName, ns)
        yield* lead("c")
        yield* lead("a")
        expect(terms).toHaveLength(4)
        for (let i = 1; i < terms.length; i++) expect(terms[i]).toBeGreaterThan(terms[i - 1]!)
      }))

    test("two runAsLeader on one service never run at once: the second waits for the first to end", () =>
      Effect.gen(function*() {
        const ca = yield* candidate("a")
        const running = yield* Ref.make(0)
        const most = yield* Ref.make(0)
        const guarded = (label: string) =>
          ca.election.runAsLeader(
            Effect.acquireUseRelease(
              Effect.flatMap(Ref.updateAndGet(running, (n) => n + 1), (n) => Ref.update(most, (m) => Math.max(m, n))),
              () => Effect.as(Effect.sleep("3 seconds"), label),
              () => Ref.update(running, (n) => n - 1)
            )
          )
        const both = yield* Effect.forkChild(Effect.all([guarded("first"), guarded("second")], { concurrency: 2 }))
        yield* advance(7_000)
        expect(yield* Fiber.join(both)).toEqual([Option.some("first"), Option.some("second")])
        expect(yield* Ref.get(most)).toBe(1)
        // The first one's release did not pull the Lease from under the second.
        expect(spec(yield* currentLease).holderIdentity).toBe("")
      }))

    test("a second runAsLeader waiting for the service's turn is interrupted at once", () =>
      Effect.gen(function*() {
        const ca = yield* candidate("a")
        const first = yield* forkLeader(ca)
        yield* eventually("a leads", first.leads)
        const second = yield* Effect.forkChild(ca.election.runAsLeader(Effect.void))
        yield* settle
        const interrupting = yield* Effect.forkChild(Fiber.interrupt(second))
        yield* eventually("the waiting call stops", isDone(interrupting))
        expect(yield* first.leads).toBe(true)
      }))

    test("renews that fail at once while a foreign duration is short do not loop: one renew per change", () =>
      Effect.gen(function*() {
        const ca = yield* candidate("a")
        const a = yield* forkLeader(ca)
        yield* eventually("a leads", a.leads)
        yield* ca.intercept((request, proceed) =>
          request.verb === "update" || request.verb === "get" ? failWith("ServerError", 500)(request, proceed) : proceed
        )
        const before = ca.count("update")
        yield* writeLease({ leaseDurationSeconds: 3 })
        yield* settle
        // The immediate renew (fast path, then slow path GET) failed; nothing more until the next period or change.
        expect(ca.count("update") - before).toBe(1)
        yield* advance(1_000)
        expect(ca.count("update") - before).toBe(1)
      }))

    test("runAsLeader nested in a runAsLeader of the same service dies with a message, instead of waiting forever", () =>
      Effect.gen(function*() {
        const ca = yield* candidate("a")
        const exit = yield* Effect.exit(ca.election.runAsLeader(
          // Forked fibers inherit the mark too.
          Effect.flatMap(Effect.forkChild(ca.election.runAsLeader(Effect.void)), Fiber.join)
        ))
        expect(Exit.isFailure(exit) && Cause.hasDies(exit.cause)).toBe(true)
        expect(Exit.isFailure(exit) && Cause.pretty(exit.cause)).toContain("would wait for itself forever")
        // Another service (another lock) nests fine.
        const other = yield* candidate("a", undefined, "other-lock")
        expect(yield* ca.election.runAsLeader(other.election.runAsLeader(Effect.succeed(1)))).toEqual(
          Option.some(Option.some(1))
        )
      }))

    test("a watch that fails right after connecting is reconnected with backoff, not every 100 ms", () =>
      Effect.gen(function*() {
        const watcher = yield* candidate("watcher")
        yield* createLease({ holderIdentity: "x", leaseDurationSeconds: 15 })
        yield* watcher.failWatches(k8sError("watch", "ServerError", 429, "throttled by API Priority and Fairness"))
        const changes = yield* Effect.forkChild(Stream.runDrain(watcher.election.leaderChanges))
        yield* advance(60_000, 250)
        // leaderChanges shares the election's watch, which while down polls like client-go's acquire loop: every
        // retryPeriod (2 s) x [1, 2.2): 14 to 30 reconnections in a minute, never one every 100 ms.
        const gets = watcher.count("get")
        expect(gets).toBeGreaterThanOrEqual(14)
        expect(gets).toBeLessThanOrEqual(31)
        yield* Fiber.interrupt(changes)
      }))

    test("a Lease lock in a namespace that does not exist fails with the typed error, not a retry loop", () =>
      Effect.gen(function*() {
        const ca = yield* candidate("a")
        yield* ca.intercept((request, proceed) =>
          request.verb === "create"
            ? Effect.fail(k8sError("create", "NotFound", 404, "namespaces \"ops\" not found"))
            : proceed
        )
        const exit = yield* Effect.exit(ca.election.runAsLeader(Effect.void))
        // (Effect 4 annotates the failure with the span it passed through: compare its reasons, not the whole Exit.)
        expect(exit._tag === "Failure" && exit.cause.reasons).toEqual([
          expect.objectContaining({
            _tag: "Fail",
            error: expect.objectContaining({ _tag: "K8sError", reason: "NotFound", verb: "create" })
          })
        ])
        expect(ca.count("create")).toBe(1)
      }))
  })
})
