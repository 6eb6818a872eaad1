/**
 * What the health check needs from an election: whether this replica believes it leads, and when it last renewed.
 * The elections keep it up to date (`makeStatus`); `LeaderElection.status` reads it, `HealthCheck` judges it.
 */
import { Duration, Effect, Option, Ref } from "effect"
import { LeaderUnhealthyError } from "../errors.js"
import { monotonicMillis } from "./time.js"

/**
 * What this replica believes about its own leadership, on its monotonic clock (Effect's `Clock.monotonicTimeNanos`:
 * `process.hrtime` in Node, the test time under `TestClock`), in milliseconds.
 *
 * @since 0.1.0
 */
export interface LeaderStatus {
  /** This replica believes it leads: from acquisition until it notices a loss, or its scope closes. */
  readonly leading: boolean
  /** When it started leading; `None` while not leading. */
  readonly leadingSince: Option.Option<number>
  /**
   * The start of its last successful renew (the acquisition counts as one). `None` while not leading, and always
   * for leader for life, which never renews: its lock is held until it is released or its Pod is gone.
   */
  readonly lastRenewAt: Option.Option<number>
  /** How long other candidates honour a renew: the Lease's `leaseDuration`; `None` for leader for life. */
  readonly leaseDuration: Option.Option<Duration.Duration>
}

/** client-go's HealthzAdaptor is usually built with 20 s (kube-controller-manager, kube-scheduler). */
export const defaultHealthTimeout: Duration.Duration = Duration.seconds(20)

/**
 * client-go's `LeaderElector.Check`: healthy unless leading and `now - lastRenewAt > leaseDuration + timeout`.
 * Not leading, or leading for life, is healthy.
 *
 * @internal
 */
export const judge = (
  status: LeaderStatus,
  now: number,
  timeout: Duration.Duration
): Option.Option<LeaderUnhealthyError> => {
  if (!status.leading || Option.isNone(status.lastRenewAt) || Option.isNone(status.leaseDuration)) {
    return Option.none()
  }
  const sinceRenewMillis = now - status.lastRenewAt.value
  return sinceRenewMillis > Duration.toMillis(status.leaseDuration.value) + Duration.toMillis(timeout)
    ? Option.some(
      new LeaderUnhealthyError({ sinceRenewMillis, leaseDuration: status.leaseDuration.value, timeout })
    )
    : Option.none()
}

/**
 * Judges `status` now; fails with `LeaderUnhealthyError` when unhealthy.
 *
 * @internal
 */
export const check = (
  status: Effect.Effect<LeaderStatus>,
  timeout: Duration.Input = defaultHealthTimeout
): Effect.Effect<void, LeaderUnhealthyError> =>
  Effect.flatMap(
    Effect.zip(status, monotonicMillis),
    ([current, now]) =>
      Option.match(judge(current, now, Duration.fromInputUnsafe(timeout)), {
        onNone: () => Effect.void,
        onSome: (error) => Effect.fail(error)
      })
  )

const notLeading = (leaseDuration: Option.Option<Duration.Duration>): LeaderStatus => ({
  leading: false,
  leadingSince: Option.none(),
  lastRenewAt: Option.none(),
  leaseDuration
})

/**
 * The status an election keeps: `lead` at acquisition, `renewed` after every successful renew, `stop` when it
 * stops leading (a loss, or the scope closing).
 *
 * @internal
 */
export const makeStatus = (leaseDuration: Option.Option<Duration.Duration>) =>
  Effect.map(Ref.make<LeaderStatus>(notLeading(leaseDuration)), (ref) => ({
    get: Ref.get(ref) as Effect.Effect<LeaderStatus>,
    /** Leads since `at`; for a Lease, `at` is the start of the acquiring write, its first renew. */
    lead: (at: number) =>
      Ref.set(ref, {
        leading: true,
        leadingSince: Option.some(at),
        lastRenewAt: Option.isSome(leaseDuration) ? Option.some(at) : Option.none(),
        leaseDuration
      }),
    renewed: (at: number) =>
      Ref.update(ref, (status) => status.leading ? { ...status, lastRenewAt: Option.some(at) } : status),
    stop: Ref.set(ref, notLeading(leaseDuration))
  }))
