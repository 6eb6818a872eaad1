/**
 * Step 1 of the Lease lock: its settings, checked against client-go's rules and ours (`./rules.ts`, shared with the
 * Effect 4 edition).
 */
import { Duration, Either } from "effect"
import { LeaderElectionConfigError } from "../../errors.js"
import { brokenRule, defaults, notADuration } from "./rules.js"

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

const decode = (name: string, input: Duration.DurationInput | undefined, fallback: Duration.DurationInput) =>
  Either.fromOption(
    Duration.decodeUnknown(input ?? fallback),
    () => new LeaderElectionConfigError(notADuration(name, input))
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
    const leaseDuration = yield* decode("leaseDuration", options.leaseDuration, defaults.leaseDuration)
    const renewDeadline = yield* decode("renewDeadline", options.renewDeadline, defaults.renewDeadline)
    const retryPeriod = yield* decode("retryPeriod", options.retryPeriod, defaults.retryPeriod)
    const requestTimeout = yield* decode("requestTimeout", options.requestTimeout, Duration.times(renewDeadline, 0.5))
    const identity = options.identity ?? defaultIdentity
    const broken = brokenRule({ leaseDuration, renewDeadline, retryPeriod, requestTimeout }, identity, {
      zero: Duration.zero,
      greaterThan: Duration.greaterThan,
      toMillis: Duration.toMillis,
      format: Duration.format
    })
    if (broken !== undefined) {
      return yield* Either.left(new LeaderElectionConfigError(broken))
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
