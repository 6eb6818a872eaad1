/**
 * Step 1 of the Lease lock: its settings, checked against client-go's rules and ours (`../../../internal/lease/rules.ts`,
 * shared with the Effect 3 edition).
 */
import { Duration, Result } from "effect"
import { brokenRule, defaults, notADuration } from "../../../internal/lease/rules.js"
import { LeaderElectionConfigError } from "../../errors.js"

/**
 * Options of the Lease lock. Durations accept anything `Duration.fromInput` does: `"15 seconds"`, `15_000`, ...
 *
 * @since 0.1.0
 */
export interface LeaseLockOptions {
  /** How long a Lease is held after its last observed change: a whole number of seconds. Default 15 s. */
  readonly leaseDuration?: Duration.Input | undefined
  /** The leader stops its work this long after the start of its last successful renew. Default 10 s. */
  readonly renewDeadline?: Duration.Input | undefined
  /** The spacing of renewals (jittered) and of polls while the watch is down. Default 2 s. */
  readonly retryPeriod?: Duration.Input | undefined
  /** The longest one request may take before it is aborted. Default: half of renewDeadline. */
  readonly requestTimeout?: Duration.Input | undefined
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

const decode = (name: string, input: Duration.Input | undefined, fallback: Duration.Input) =>
  Result.fromOption(
    Duration.fromInput(input ?? fallback),
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
): Result.Result<LeaseSettings, LeaderElectionConfigError> =>
  Result.gen(function*() {
    const leaseDuration = yield* decode("leaseDuration", options.leaseDuration, defaults.leaseDuration)
    const renewDeadline = yield* decode("renewDeadline", options.renewDeadline, defaults.renewDeadline)
    const retryPeriod = yield* decode("retryPeriod", options.retryPeriod, defaults.retryPeriod)
    const requestTimeout = yield* decode("requestTimeout", options.requestTimeout, Duration.times(renewDeadline, 0.5))
    const identity = options.identity ?? defaultIdentity
    const broken = brokenRule({ leaseDuration, renewDeadline, retryPeriod, requestTimeout }, identity, {
      zero: Duration.zero,
      greaterThan: Duration.isGreaterThan,
      toMillis: Duration.toMillis,
      format: Duration.format
    })
    if (broken !== undefined) {
      return yield* Result.fail(new LeaderElectionConfigError(broken))
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
