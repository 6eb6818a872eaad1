import { Deferred, Effect, Option, type Scope, type Stream } from "effect"
import type { LeaderElectionError } from "../errors.js"
import type { K8sError } from "../K8sError.js"
import type { LeaderStatus } from "./health.js"

/**
 * The time this replica leads, from acquisition until its scope closes.
 *
 * @since 0.1.0
 */
export interface Leadership {
  /** The lock's name. */
  readonly lock: string
  readonly namespace: string
  /** Who leads: this replica's identity. */
  readonly identity: string
  /**
   * A fencing token that grows with every change of holder: the Lease's `leaseTransitions` at acquisition, or
   * for leader for life the lock object's creation resourceVersion. Pass it along with writes to resources the
   * leader guards, so they can refuse a former leader's late writes.
   */
  readonly term: number
  /** Completes when this replica stops leading before its scope closes. */
  readonly lost: Effect.Effect<void>
}

/**
 * A leadership as the elections hand it out: `ended` also tells why it ended.
 *
 * @internal
 */
export interface ElectedLeadership extends Leadership {
  /** Completes with `lost`; fails instead when leadership ended on an error no retry fixes (a 403). */
  readonly ended: Effect.Effect<void, LeaderElectionError>
}

/**
 * What every lock provides; `runAsLeader` is built on top of it.
 *
 * @internal
 */
export interface Election {
  readonly leadership: Effect.Effect<ElectedLeadership, LeaderElectionError, Scope.Scope>
  readonly leaderChanges: Stream.Stream<Option.Option<string>, K8sError>
  /** What this replica believes about its leadership, for the health check (see `./health.ts`). */
  readonly status: Effect.Effect<LeaderStatus>
}

/**
 * How a leadership ends early: `lose` when the lock says someone else leads (or may), `fail` when leading cannot
 * go on for a reason retrying cannot fix. Either way `lost` completes, so the protected work stops.
 *
 * @internal
 */
export const makeEnding = Effect.gen(function*() {
  const lost = yield* Deferred.make<void>()
  const failed = yield* Deferred.make<never, LeaderElectionError>()
  return {
    lost: Deferred.await(lost),
    ended: Effect.zipRight(
      Deferred.await(lost),
      Effect.flatMap(Deferred.poll(failed), Option.getOrElse(() => Effect.void))
    ),
    lose: (why: string) =>
      Effect.logWarning(`leadership lost: ${why}`).pipe(
        Effect.zipRight(Deferred.succeed(lost, undefined)),
        Effect.asVoid
      ),
    fail: (error: LeaderElectionError) =>
      Effect.logError(`leadership ended: ${error.message}`).pipe(
        Effect.zipRight(Deferred.fail(failed, error)),
        Effect.zipRight(Deferred.succeed(lost, undefined)),
        Effect.asVoid
      )
  } as const
})
