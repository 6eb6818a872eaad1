/**
 * The Lease lock: client-go's `tools/leaderelection` protocol on a `coordination.k8s.io/v1` Lease, so that Go
 * candidates and ours can share one Lease, driven by a watch instead of polling, with a hard deadline. The steps:
 * settings (`lease/settings.ts`), the observer (`lease/observer.ts`), the single writes (`lease/protocol.ts`), and
 * here the acquire loop and what leading means.
 */
import { Cause, Duration, Effect, Fiber, Metric, Option, Ref, Semaphore, Stream } from "effect"
import { leaderDeadline, shortenedFor } from "../../internal/lease/record.js"
import { jitterFactor } from "../../internal/lease/rules.js"
import { termOf } from "../../internal/term.js"
import { ContextInfo } from "../ContextInfo.js"
import type { LeaderElectionError } from "../errors.js"
import { isPermanent } from "../K8sError.js"
import { Leases } from "../Leases.js"
import { type Election, type Lock, make as makeElection } from "./election.js"
import { holderOf, makeObserver, type Observed, type Observer } from "./lease/observer.js"
import { makeProtocol } from "./lease/protocol.js"
import { type LeaseLockOptions, validate } from "./lease/settings.js"
import { forLock, renewFailures } from "./metrics.js"
import { share } from "./sharedWatch.js"
import { monotonicMillis, sleepJittered, sleepMillis } from "./time.js"

/**
 * Effect 3's `Effect.disconnect`: runs `self` in a detached fiber, so that interrupting it returns at once while
 * `self` is interrupted in the background (its teardown is not waited for).
 */
const disconnect = <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.uninterruptibleMask((restore) =>
    Effect.flatMap(
      Effect.forkDetach(restore(self)),
      (fiber) => Effect.onInterrupt(restore(Fiber.join(fiber)), () => Effect.forkDetach(Fiber.interrupt(fiber)))
    )
  )

/** @internal */
export const make = (lockName: string, options: LeaseLockOptions = {}) =>
  Effect.gen(function*() {
    const context = yield* ContextInfo
    const leases = yield* Leases
    const namespace = context.namespace
    const settings = yield* Effect.fromResult(validate(options, context.podName))
    const { identity, retryPeriod } = settings
    const renewDeadlineMillis = Duration.toMillis(settings.renewDeadline)
    const leaseDurationMillis = Duration.toMillis(settings.leaseDuration)
    const attributes = { lock: lockName, namespace, identity }
    const protocol = makeProtocol(leases, lockName, namespace, settings)
    /** The one watch of the Lease of this service, shared by the election and every `leaderChanges` subscriber. */
    const sharedObserver = yield* share(
      makeObserver(protocol.watched, lockName, namespace, settings),
      (observer) => observer.failed
    )

    /**
     * What a leader holds: its view of the Lease, the start of the acquiring write, and its writes: a renew and the
     * release never overlap, and once the release began no renew starts. The release then need not wait for the
     * watch for loss to be interrupted (milliseconds of work, on the path of a graceful handover).
     */
    interface Held {
      readonly observer: Observer
      readonly acquiredAt: number
      readonly writes: Semaphore.Semaphore
      readonly releasing: { value: boolean }
    }

    const acquire: Lock<Held>["acquire"] = Effect.gen(function*() {
      const observer = yield* sharedObserver
      yield* Effect.logInfo("acquiring lease")
      let waitingFor: string | undefined
      let retriedRace = false
      while (true) {
        const seen = yield* observer.get
        const outcome = yield* protocol.tryAcquire(observer).pipe(Effect.result)
        if (outcome._tag === "Failure") {
          const error = outcome.failure
          // A create answered NotFound: the namespace does not exist, and no retry creates it.
          if (isPermanent(error) || (error.verb === "create" && error.reason === "NotFound")) return yield* error
          // Someone wrote first: read what they wrote and judge again at once, but only once in a row. A conflict
          // that persists (a writer that keeps touching the Lease, a failing read) waits like any other failure,
          // or the loop would hammer the API server.
          if ((error.reason === "Conflict" || error.reason === "AlreadyExists") && !retriedRace) {
            yield* Effect.logDebug(`lost a write race: ${error.message}`)
            const fresh = yield* protocol.get.pipe(Effect.option)
            if (Option.isSome(fresh)) {
              yield* observer.see(fresh.value)
              retriedRace = true
              continue
            }
          }
          retriedRace = false
          yield* Effect.logWarning(`acquire attempt failed, retrying: ${error.message}`)
          yield* Effect.raceFirst(observer.nextChange(seen), sleepJittered(retryPeriod, 1, 2.2))
          continue
        }
        retriedRace = false
        if (outcome.success._tag === "Acquired") {
          const { lease, startedAt } = outcome.success
          // The acquiring write counts as the first renew, and its deadline runs from the write's start: answered only
          // after it (a paused process, a slow answer), followers may already count the record it wrote expired. No
          // leadership on it: judge again (a Lease that still names us is written again at once).
          const deadline = leaderDeadline(startedAt, lease, renewDeadlineMillis, leaseDurationMillis)
          if ((yield* monotonicMillis) >= deadline) {
            yield* Effect.logWarning(
              `the acquiring write was answered after its deadline (${
                Duration.format(settings.renewDeadline)
              } after it began); not leading on it`
            )
            continue
          }
          const term = termOf(lease.metadata.resourceVersion, lease.spec?.leaseTransitions ?? 0)
          yield* Effect.logInfo(`acquired (term ${term})`)
          const writes = yield* Semaphore.make(1)
          return { held: { observer, acquiredAt: startedAt, writes, releasing: { value: false } }, term, startedAt }
        }
        const { expiresAt, holder } = outcome.success
        if (holder !== waitingFor) {
          yield* Effect.logInfo(`waiting for ${holder}`)
          waitingFor = holder
        }
        // Wake on the next change of the record (a release, a takeover) or exactly at the observed expiry.
        yield* Effect.raceFirst(observer.nextChange(seen), sleepMillis(expiresAt - (yield* monotonicMillis)))
      }
    }).pipe(Effect.withSpan("lease.acquire", { attributes }))

    const watchForLoss: Lock<Held>["watchForLoss"] = ({ acquiredAt, observer, releasing, writes }, renewed) =>
      Effect.gen(function*() {
        // The start of the last successful renew (the acquiring write counts as one).
        const lastRenew = yield* Ref.make(acquiredAt)

        // A new foreign write that shortens the record's duration is answered at once with a renew, which writes
        // ours back: until then the deadline below is shortened, and the leader would rather stop than wait.
        const shortenedAfter = (before: Observed) =>
          Effect.gen(function*() {
            let seen = before
            while (true) {
              yield* observer.nextChange(seen)
              seen = yield* observer.get
              if (shortenedFor(Option.getOrUndefined(seen.lease), identity, leaseDurationMillis)) return
            }
          })
        const renewLoop = Effect.gen(function*() {
          while (true) {
            const before = yield* observer.get
            yield* Effect.raceFirst(sleepJittered(retryPeriod, 1, jitterFactor), shortenedAfter(before))
            const startedAt = yield* monotonicMillis
            const cached = (yield* observer.get).lease
            if (Option.isNone(cached)) return "the Lease was deleted"
            if (holderOf(cached) !== identity) return `the Lease names ${holderOf(cached) || "no holder"}`
            const written = yield* writes.withPermits(1)(Effect.suspend(() =>
              releasing.value ? Effect.succeedNone : protocol.renew(cached.value).pipe(
                Effect.withSpan("lease.renew", { attributes }),
                Effect.result,
                Effect.tap((outcome) =>
                  outcome._tag === "Success" && outcome.success._tag === "Renewed"
                    ? observer.see(Option.some(outcome.success.lease))
                    : Effect.void
                ),
                Effect.asSome
              )
            ))
            // Releasing: no more renews; the lifecycle interrupts this loop once the release is written.
            if (Option.isNone(written)) {
              return yield* Effect.never
            }
            const outcome = written.value
            if (outcome._tag === "Failure") {
              yield* Metric.update(forLock(lockName)(renewFailures), 1)
              if (isPermanent(outcome.failure)) {
                return yield* outcome.failure
              }
              yield* Effect.logWarning(`renew failed: ${outcome.failure.message}`)
            } else if (outcome.success._tag === "Taken") {
              return `the Lease names ${outcome.success.holder || "no holder"}`
            } else {
              yield* Ref.set(lastRenew, startedAt)
              yield* renewed(startedAt)
            }
          }
        })

        /**
         * The hard deadline: renewDeadline after the start of the last successful renew, whatever is in flight.
         * Followers count a record's own leaseDurationSeconds from when they saw it: should a foreign write shorten
         * it, the deadline shrinks in proportion (renewDeadline / leaseDuration of what the record now says) until
         * our next renew writes our duration back. That foreign write came after our last renew (the observer keeps
         * only newer versions), so followers cannot expire it before our shortened deadline.
         */
        const deadlineOf = (lastRenewAt: number, seen: Observed) =>
          leaderDeadline(lastRenewAt, Option.getOrUndefined(seen.lease), renewDeadlineMillis, leaseDurationMillis)
        const deadline = Effect.gen(function*() {
          while (true) {
            const seen = yield* observer.get
            const remaining = deadlineOf(yield* Ref.get(lastRenew), seen) - (yield* monotonicMillis)
            if (remaining <= 0) {
              return `no successful renew within ${Duration.format(settings.renewDeadline)}`
            }
            yield* Effect.raceFirst(sleepMillis(remaining), observer.nextChange(seen))
          }
        })

        // Safety first: a leader that sees the record name someone else (or no one) stops at once. Woken by the same
        // signal as a follower's wait: a follower that sees a foreign write freeing the Lease must not acquire before
        // this leader has stopped.
        const stolen = Effect.gen(function*() {
          while (true) {
            const seen = yield* observer.get
            const holder = holderOf(seen.lease)
            if (holder !== identity) {
              return `the Lease names ${holder || "no holder"}`
            }
            yield* observer.nextChange(seen)
          }
        })

        // The first to end ends the leadership at once: the others are interrupted in the background (`disconnect`),
        // not waited for, as their teardown takes milliseconds the next leader may not give us.
        const racers: ReadonlyArray<Effect.Effect<string, LeaderElectionError>> = [
          renewLoop,
          deadline,
          stolen,
          observer.failed
        ]
        return yield* racers.map(disconnect).reduce((a, b) =>
          Effect.raceFirst(a, b)
        )
      })

    const release: Lock<Held>["release"] = ({ observer, releasing, writes }) =>
      settings.releaseOnCancel
        ? Effect.suspend(() => {
          releasing.value = true
          return writes.withPermits(1)(Effect.flatMap(observer.get, ({ lease }) => protocol.release(lease)))
        }).pipe(
          Effect.catchCause((cause) =>
            Effect.logWarning("release failed; the lease expires on its own", Cause.squash(cause))
          ),
          Effect.withSpan("lease.release", { attributes })
        )
        : Effect.void

    const leaderChanges: Election["leaderChanges"] = Stream.unwrap(Effect.map(sharedObserver, (observer) =>
      observer.holders.pipe(
        Stream.map((holder) => holder === "" ? Option.none() : Option.some(holder)),
        Stream.changesWith(Option.makeEquivalence((a, b) => a === b)),
        Stream.interruptWhen(observer.failed)
      )))

    return yield* makeElection<Held>({
      name: lockName,
      namespace,
      identity,
      leaseDuration: Option.some(settings.leaseDuration),
      acquire,
      release,
      watchForLoss,
      leaderChanges
    })
  })

export type { LeaseLockOptions } from "./lease/settings.js"
