import type { Effect, Scope, Stream } from "effect"
import type { LeaderElectionError } from "../errors.js"

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
 * What every lock provides; `runAsLeader` is built on top of it.
 *
 * @internal
 */
export interface Election {
  readonly leadership: Effect.Effect<Leadership, LeaderElectionError, Scope.Scope>
  readonly leaderChanges: Stream.Stream<import("effect").Option.Option<string>>
}
