/**
 * Step 1 of the Lease lock: its settings, checked against client-go's rules and ours.
 */
import { Duration, Either } from "effect"
import { LeaderElectionConfigError } from "../../errors.js"

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
export const jitterFactor = 1.2

const decode = (name: string, input: Duration.DurationInput | undefined, fallback: Duration.DurationInput) =>
  Either.fromOption(
    Duration.decodeUnknown(input ?? fallback),
    () =>
      new LeaderElectionConfigError({
        rule: `${name} is a duration`,
        detail: `${name} ${String(input)} is not a duration; use e.g. "15 seconds" or a number of milliseconds`
      })
  )

/**
 * Checks client-go's rules and ours; the error names the rule that broke.
 *
 * @internal
 */
export const validate = (
  options: LeaseLockOptions,
  defaultIdentity: string
): Either.Either<LeaseSettings, LeaderElectionConfigError> =>
  Either.gen(function*() {
    const leaseDuration = yield* decode("leaseDuration", options.leaseDuration, "15 seconds")
    const renewDeadline = yield* decode("renewDeadline", options.renewDeadline, "10 seconds")
    const retryPeriod = yield* decode("retryPeriod", options.retryPeriod, "2 seconds")
    const requestTimeout = yield* decode("requestTimeout", options.requestTimeout, Duration.times(renewDeadline, 0.5))
    const identity = options.identity ?? defaultIdentity
    const show = Duration.format
    const rules: ReadonlyArray<[boolean, string, string]> = [
      [
        [leaseDuration, renewDeadline, retryPeriod, requestTimeout].every((d) =>
          Duration.greaterThan(d, Duration.zero)
        ),
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
    const broken = rules.find(([holds]) => !holds)
    if (broken !== undefined) {
      return yield* Either.left(new LeaderElectionConfigError({ rule: broken[1], detail: broken[2] }))
    }
    return {
      leaseDuration,
      renewDeadline,
      retryPeriod,
      requestTimeout,
      identity,
      releaseOnCancel: options.releaseOnCancel ?? true
    }
  })
