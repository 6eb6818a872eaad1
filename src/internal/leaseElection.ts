/**
 * The Lease election: client-go's `tools/leaderelection` protocol on a `coordination.k8s.io/v1` Lease, so that
 * Go candidates and ours can share one Lease, driven by a watch instead of polling, with a hard deadline.
 */
import {
  Cause,
  Clock,
  Deferred,
  Duration,
  Effect,
  Either,
  Metric,
  Option,
  Ref,
  Schedule,
  Stream,
  SubscriptionRef
} from "effect"
import { ContextInfo } from "../ContextInfo.js"
import { LeaderElectionConfigError } from "../errors.js"
import { isPermanent, K8sError } from "../K8sError.js"
import { Leases } from "../Leases.js"
import { formatMicroTime, type Lease } from "../resources.js"
import { type ElectedLeadership, type Election, makeEnding } from "./election.js"
import { makeStatus } from "./health.js"
import { forLock, leaderStatus, renewFailures, slowPath, transitions } from "./metrics.js"
import { observe } from "./observe.js"
import { jittered, monotonicMillis, sleepJittered, sleepMillis } from "./time.js"

/**
 * Options of the Lease lock. Durations accept anything `Duration.decode` does: `"15 seconds"`, `15_000`, ...
 *
 * @since 0.1.0
 */
export interface LeaseLockOptions {
  /** How long a Lease is held after its last observed change: a whole number of seconds. Default 15 s. */
  readonly leaseDuration?: Duration.DurationInput | undefined
  /** The leader stops its work this long after the start of its last successful renew. Default 10 s. */
  readonly renewDeadline?: Duration.DurationInput | undefined
  /** The spacing of renewals (jittered) and of polls while the watch is down. Default 2 s. */
  readonly retryPeriod?: Duration.DurationInput | undefined
  /** The longest one request may take before it is aborted. Default: half of renewDeadline. */
  readonly requestTimeout?: Duration.DurationInput | undefined
  /** The holder identity written in the Lease. Default: the Pod name from `ContextInfo`. */
  readonly identity?: string | undefined
  /** Clear the holder when the leadership's scope closes, so that a follower takes over at once. Default true. */
  readonly releaseOnCancel?: boolean | undefined
}

/** @internal */
export interface LeaseSettings {
  readonly leaseDuration: Duration.Duration
  readonly renewDeadline: Duration.Duration
  readonly retryPeriod: Duration.Duration
  readonly requestTimeout: Duration.Duration
  readonly identity: string
  readonly releaseOnCancel: boolean
}

/** client-go's JitterFactor: renewDeadline must leave room for one jittered retry. */
const jitterFactor = 1.2

/**
 * Checks client-go's rules and ours; the error names the rule that broke.
 *
 * @internal
 */
export const validate = (
  options: LeaseLockOptions,
  defaultIdentity: string
): Either.Either<LeaseSettings, LeaderElectionConfigError> => {
  const decode = (name: string, input: Duration.DurationInput | undefined, fallback: Duration.DurationInput) => {
    const value = Duration.decodeUnknown(input ?? fallback)
    if (Option.isNone(value)) {
      throw new LeaderElectionConfigError({
        rule: `${name} is a duration`,
        detail: `${name} ${String(input)} is not a duration; use e.g. "15 seconds" or a number of milliseconds`
      })
    }
    return value.value
  }
  try {
    const leaseDuration = decode("leaseDuration", options.leaseDuration, "15 seconds")
    const renewDeadline = decode("renewDeadline", options.renewDeadline, "10 seconds")
    const retryPeriod = decode("retryPeriod", options.retryPeriod, "2 seconds")
    const requestTimeout = decode("requestTimeout", options.requestTimeout, Duration.times(renewDeadline, 0.5))
    const identity = options.identity ?? defaultIdentity
    const show = Duration.format
    const rules: ReadonlyArray<[boolean, string, string]> = [
      [
        Duration.greaterThan(leaseDuration, Duration.zero) && Duration.greaterThan(renewDeadline, Duration.zero) &&
        Duration.greaterThan(retryPeriod, Duration.zero) && Duration.greaterThan(requestTimeout, Duration.zero),
        "all durations > 0",
        "leaseDuration, renewDeadline, retryPeriod and requestTimeout must all be positive"
      ],
      [
        Duration.toMillis(leaseDuration) % 1000 === 0,
        "leaseDuration is whole seconds",
        `leaseDuration ${show(leaseDuration)} must be a whole number of seconds: the Lease stores leaseDurationSeconds`
      ],
      [
        Duration.greaterThan(leaseDuration, renewDeadline),
        "leaseDuration > renewDeadline",
        `leaseDuration ${show(leaseDuration)} must be greater than renewDeadline ${show(renewDeadline)}`
      ],
      [
        Duration.toMillis(renewDeadline) > jitterFactor * Duration.toMillis(retryPeriod),
        "renewDeadline > 1.2 x retryPeriod",
        `renewDeadline ${show(renewDeadline)} must be greater than 1.2 x retryPeriod ${show(retryPeriod)}`
      ],
      [
        Duration.lessThan(requestTimeout, renewDeadline),
        "requestTimeout < renewDeadline",
        `requestTimeout ${show(requestTimeout)} must be less than renewDeadline ${show(renewDeadline)}`
      ],
      [identity.length > 0, "identity is not empty", "identity must not be empty"]
    ]
    for (const [holds, rule, detail] of rules) {
      if (!holds) return Either.left(new LeaderElectionConfigError({ rule, detail }))
    }
    return Either.right({
      leaseDuration,
      renewDeadline,
      retryPeriod,
      requestTimeout,
      identity,
      releaseOnCancel: options.releaseOnCancel ?? true
    })
  } catch (error) {
    return Either.left(error as LeaderElectionConfigError)
  }
}

/** What this candidate last saw of the Lease, and when (on its own monotonic clock) the record last changed. */
interface Observed {
  readonly lease: Option.Option<Lease>
  readonly observedAt: number
  /** Counts changes of the record, to wait for the next one. */
  readonly version: number
}

type LeaseSpec = NonNullable<Lease["spec"]>

const holderOf = (lease: Option.Option<Lease>): string =>
  Option.match(lease, { onNone: () => "", onSome: (lease) => lease.spec?.holderIdentity ?? "" })

/** The leader election record proper: a change of anything else (labels, managedFields) is no sign of life. */
const sameRecord = (a: LeaseSpec | undefined, b: LeaseSpec | undefined) =>
  a?.holderIdentity === b?.holderIdentity && a?.leaseDurationSeconds === b?.leaseDurationSeconds &&
  a?.acquireTime === b?.acquireTime && a?.renewTime === b?.renewTime && a?.leaseTransitions === b?.leaseTransitions

/** resourceVersions are opaque, but etcd's are integers: where both are, never let an older one win. */
const isOlder = (candidate: Lease, current: Lease) => {
  const [a, b] = [candidate.metadata.resourceVersion, current.metadata.resourceVersion]
  return a !== undefined && b !== undefined && /^\d+$/.test(a) && /^\d+$/.test(b) && BigInt(a) < BigInt(b)
}

/** @internal */
export const make = (lockName: string, options: LeaseLockOptions = {}) =>
  Effect.gen(function*() {
    const context = yield* ContextInfo
    const leases = yield* Leases
    const namespace = context.namespace
    const settings = yield* validate(options, context.podName)
    const { identity, leaseDuration, renewDeadline, requestTimeout, retryPeriod } = settings
    const leaseDurationSeconds = Duration.toSeconds(leaseDuration)
    const metric = forLock(lockName)
    const annotate = Effect.annotateLogs({ lock: lockName, namespace, identity })
    const attributes = { lock: lockName, namespace, identity }

    const microTimeNow = Effect.map(Clock.currentTimeMillis, formatMicroTime)
    // Health check hook (./health.ts): leading since the acquiring write, last renew, stopped on loss or release.
    const status = yield* makeStatus(Option.some(leaseDuration))

    /**
     * Every request is bounded by requestTimeout; the timeout interrupts it, which aborts its HTTP request. The
     * request is made interruptible so that the bound also holds in uninterruptible regions (the release runs in
     * a finalizer), where the timeout could not interrupt it otherwise and would wait for it forever.
     */
    const bounded = <A>(request: Effect.Effect<A, K8sError>, verb: "get" | "create" | "update") =>
      Effect.timeoutFail(Effect.interruptible(request), {
        duration: requestTimeout,
        onTimeout: () =>
          new K8sError({
            verb,
            resource: "leases.coordination.k8s.io",
            namespace,
            name: lockName,
            reason: "Timeout",
            detail: `no answer within requestTimeout ${Duration.format(requestTimeout)}; the request was aborted`
          })
      })
    const getLease = bounded(leases.get(lockName, namespace), "get").pipe(
      Effect.map(Option.some),
      Effect.catchIf((error) => error.reason === "NotFound", () => Effect.succeedNone)
    )

    /** The watch's GET (at every (re)connection) is bounded by requestTimeout too, like every other request. */
    const watchedLeases = { ...leases, get: (name: string, ns: string) => bounded(leases.get(name, ns), "get") }

    /** Builds one candidate's view of the Lease from what it reads, writes and watches. */
    const makeObserver = Effect.gen(function*() {
      const state = yield* SubscriptionRef.make<Observed>({ lease: Option.none(), observedAt: 0, version: 0 })
      const ready = yield* Deferred.make<void>()
      const failed = yield* Deferred.make<never, K8sError>()
      const see = (lease: Option.Option<Lease>) =>
        Effect.flatMap(monotonicMillis, (now) =>
          SubscriptionRef.update(state, (current) => {
            if (Option.isSome(lease) && Option.isSome(current.lease) && isOlder(lease.value, current.lease.value)) {
              return current
            }
            const changed = Option.isSome(lease) !== Option.isSome(current.lease) ||
              !sameRecord(Option.getOrUndefined(lease)?.spec, Option.getOrUndefined(current.lease)?.spec)
            return changed
              ? { lease, observedAt: now, version: current.version + 1 }
              : { ...current, lease }
          }))
      // The watch: each (re)connection starts with a GET, and while it is down reconnects poll every
      // retryPeriod, jittered as client-go's acquire loop is, so a follower never hears nothing for long.
      yield* observe(
        watchedLeases,
        lockName,
        namespace,
        jittered(Schedule.spaced(retryPeriod), 1, 2.2)
      ).pipe(
        Stream.runForEach((lease) => Effect.zipRight(see(lease), Deferred.succeed(ready, undefined))),
        // Only an error no reconnect fixes ends the watch (a 403): every wait on it fails with that error.
        Effect.catchAll((error) => Deferred.fail(failed, error)),
        Effect.forkScoped
      )
      yield* Effect.raceFirst(Deferred.await(ready), Deferred.await(failed))
      const nextChange = (after: Observed) =>
        Effect.raceFirst(
          state.changes.pipe(Stream.filter((seen) => seen.version > after.version), Stream.runHead, Effect.asVoid),
          Deferred.await(failed)
        )
      return { state, see, nextChange, failed: Deferred.await(failed) } as const
    })

    type Observer = Effect.Effect.Success<typeof makeObserver>

    /** The record a write of ours puts in the Lease, keeping every field we do not own. */
    const record = (lease: Option.Option<Lease>, fields: Partial<LeaseSpec>): Lease => ({
      ...Option.getOrElse(lease, (): Lease => ({ metadata: { name: lockName, namespace } })),
      spec: { ...Option.getOrUndefined(lease)?.spec, ...fields }
    })

    /** One try, client-go's tryAcquireOrRenew for a candidate that does not lead: the written Lease, or why not. */
    const tryAcquire = (observer: Observer) =>
      Effect.gen(function*() {
        const seen = yield* SubscriptionRef.get(observer.state)
        const now = yield* monotonicMillis
        const holder = holderOf(seen.lease)
        const spec = Option.getOrUndefined(seen.lease)?.spec
        const duration = spec?.leaseDurationSeconds ?? 0
        const expiresAt = seen.observedAt + duration * 1000
        // An empty holder, or a record without a duration, is free at once.
        if (holder !== "" && holder !== identity && duration > 0 && now < expiresAt) {
          return { _tag: "Held", holder, expiresAt } as const
        }
        const startedAt = yield* monotonicMillis
        const time = yield* microTimeNow
        const written = Option.isNone(seen.lease)
          ? yield* bounded(
            leases.create(record(seen.lease, {
              holderIdentity: identity,
              leaseDurationSeconds,
              acquireTime: time,
              renewTime: time,
              leaseTransitions: 0
            })),
            "create"
          )
          : yield* bounded(
            leases.replace(record(seen.lease, {
              holderIdentity: identity,
              leaseDurationSeconds,
              renewTime: time,
              // A new holder counts a transition and stamps its acquireTime; the same holder keeps both.
              ...(holder === identity
                ? {}
                : { acquireTime: time, leaseTransitions: (spec?.leaseTransitions ?? 0) + 1 })
            })),
            "update"
          )
        yield* observer.see(Option.some(written))
        return { _tag: "Acquired", lease: written, startedAt } as const
      })

    const acquire = (observer: Observer) =>
      Effect.gen(function*() {
        yield* Effect.logInfo("acquiring lease")
        let waitingFor: string | undefined
        let retriedRace = false
        while (true) {
          const seen = yield* SubscriptionRef.get(observer.state)
          const outcome = yield* tryAcquire(observer).pipe(Effect.either)
          if (Either.isLeft(outcome)) {
            const error = outcome.left
            if (isPermanent(error)) return yield* error
            // Someone wrote first: read what they wrote and judge again at once, but only once in a row. A conflict
            // that persists (a writer that keeps touching the Lease, a failing read) waits like any other failure,
            // or the loop would hammer the API server.
            if ((error.reason === "Conflict" || error.reason === "AlreadyExists") && !retriedRace) {
              yield* Effect.logDebug(`lost a write race: ${error.message}`)
              const fresh = yield* getLease.pipe(Effect.option)
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
          if (outcome.right._tag === "Acquired") {
            yield* Effect.logInfo(`acquired (term ${outcome.right.lease.spec?.leaseTransitions ?? 0})`)
            return outcome.right
          }
          const { expiresAt, holder } = outcome.right
          if (holder !== waitingFor) {
            yield* Effect.logInfo(`waiting for ${holder}`)
            waitingFor = holder
          }
          // Wake on the next change of the record (a release, a takeover) or exactly at the observed expiry.
          const now = yield* monotonicMillis
          yield* Effect.raceFirst(observer.nextChange(seen), sleepMillis(expiresAt - now))
        }
      }).pipe(Effect.withSpan("lease.acquire", { attributes }))

    /** One renew: from the cached Lease with no GET; on any failure GET it and update once more. */
    const renewOnce = (cached: Lease) =>
      Effect.gen(function*() {
        const time = yield* microTimeNow
        const fast = yield* bounded(leases.replace(record(Option.some(cached), { renewTime: time })), "update").pipe(
          Effect.either
        )
        if (Either.isRight(fast)) return { _tag: "Renewed", lease: fast.right } as const
        yield* Metric.increment(metric(slowPath))
        yield* Effect.logDebug(`renew from the cached Lease failed, reading it: ${fast.left.message}`)
        const current = yield* getLease
        const holder = holderOf(current)
        if (Option.isNone(current) || holder !== identity) return { _tag: "Taken", holder } as const
        const lease = yield* bounded(
          leases.replace(record(current, { holderIdentity: identity, leaseDurationSeconds, renewTime: time })),
          "update"
        )
        return { _tag: "Renewed", lease } as const
      }).pipe(Effect.withSpan("lease.renew", { attributes }))

    const release = (observer: Observer) =>
      Effect.gen(function*() {
        let lease = (yield* SubscriptionRef.get(observer.state)).lease
        for (let attempt = 1; attempt <= 3; attempt++) {
          if (holderOf(lease) !== identity || Option.isNone(lease)) return
          const time = yield* microTimeNow
          const written = yield* bounded(
            leases.replace(record(lease, {
              holderIdentity: "",
              leaseDurationSeconds: 1,
              acquireTime: time,
              renewTime: time
            })),
            "update"
          ).pipe(Effect.either)
          if (Either.isRight(written)) {
            yield* Effect.logInfo("released")
            return
          }
          if (written.left.reason !== "Conflict") return yield* written.left
          lease = yield* getLease
        }
        yield* Effect.logWarning("release gave up after 3 conflicts; the lease expires on its own")
      }).pipe(
        Effect.catchAllCause((cause) =>
          Effect.logWarning("release failed; the lease expires on its own", Cause.squash(cause))
        ),
        Effect.withSpan("lease.release", { attributes })
      )

    const leadership: Election["leadership"] = Effect.gen(function*() {
      const observer = yield* makeObserver
      const acquired = yield* Effect.uninterruptibleMask((restore) =>
        restore(acquire(observer)).pipe(
          Effect.tap(() =>
            Effect.addFinalizer(() =>
              Effect.zipRight(
                settings.releaseOnCancel ? release(observer) : Effect.void,
                Metric.set(metric(leaderStatus), 0)
              ).pipe(annotate)
            )
          )
        )
      )
      yield* Metric.set(metric(leaderStatus), 1)
      yield* Metric.increment(metric(transitions))
      const ending = yield* makeEnding
      // Health check hook: leading from the start of the acquiring write until a loss is noticed or the scope closes.
      yield* status.lead(acquired.startedAt)
      yield* Effect.addFinalizer(() => status.stop)
      yield* Effect.forkScoped(Effect.zipRight(ending.lost, status.stop))
      const loseLeadership = (why: string) => Effect.zipRight(Metric.set(metric(leaderStatus), 0), ending.lose(why))
      // Safety first: a renew refused for good (a 403) ends leadership now, not at the deadline.
      const failLeadership = (error: K8sError) =>
        Effect.zipRight(Metric.set(metric(leaderStatus), 0), ending.fail(error))
      // The hard deadline: renewDeadline after the start of the last successful renew, whatever is in flight.
      const deadline = yield* Ref.make(acquired.startedAt + Duration.toMillis(renewDeadline))

      const renewLoop = Effect.gen(function*() {
        while (true) {
          yield* sleepJittered(retryPeriod, 1, jitterFactor)
          const startedAt = yield* monotonicMillis
          const cached = (yield* SubscriptionRef.get(observer.state)).lease
          if (Option.isNone(cached)) return yield* loseLeadership("the Lease was deleted")
          const renewed = yield* renewOnce(cached.value).pipe(Effect.either)
          if (Either.isRight(renewed) && renewed.right._tag === "Renewed") {
            yield* observer.see(Option.some(renewed.right.lease))
            yield* Ref.set(deadline, startedAt + Duration.toMillis(renewDeadline))
            yield* status.renewed(startedAt) // health check hook
          } else if (Either.isRight(renewed)) {
            return yield* loseLeadership(`the Lease names ${renewed.right.holder || "no holder"}`)
          } else {
            yield* Metric.increment(metric(renewFailures))
            if (isPermanent(renewed.left)) return yield* failLeadership(renewed.left)
            yield* Effect.logWarning(`renew failed: ${renewed.left.message}`)
          }
        }
      })

      const deadlineTimer = Effect.gen(function*() {
        while (true) {
          const remaining = (yield* Ref.get(deadline)) - (yield* monotonicMillis)
          if (remaining <= 0) {
            return yield* loseLeadership(`no successful renew within ${Duration.format(renewDeadline)}`)
          }
          yield* sleepMillis(remaining)
        }
      })

      const stolen = observer.state.changes.pipe(
        Stream.map((seen) => holderOf(seen.lease)),
        Stream.filter((holder) => holder !== identity),
        Stream.runHead,
        Effect.flatMap((holder) =>
          loseLeadership(`the Lease names ${Option.getOrElse(holder, () => "") || "no holder"}`)
        ),
        Effect.raceFirst(Effect.catchAll(observer.failed, failLeadership))
      )

      yield* Effect.raceFirst(renewLoop, Effect.raceFirst(deadlineTimer, stolen)).pipe(annotate, Effect.forkScoped)

      return {
        lock: lockName,
        namespace,
        identity,
        term: acquired.lease.spec?.leaseTransitions ?? 0,
        lost: ending.lost,
        ended: ending.ended
      } satisfies ElectedLeadership
    }).pipe(annotate)

    const leaderChanges: Election["leaderChanges"] = observe(leases, lockName, namespace).pipe(
      Stream.map((lease) => Option.filter(Option.some(holderOf(lease)), (holder) => holder !== "")),
      Stream.changesWith(Option.getEquivalence((a, b) => a === b))
    )

    return { leadership, leaderChanges, status: status.get } satisfies Election
  })
