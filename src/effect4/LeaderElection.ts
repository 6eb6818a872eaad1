/**
 * Leader election: run an effect in exactly one replica at a time.
 *
 * @since 0.1.0
 */
import { Context, type Duration, Effect, Layer, Option, type Scope, type Stream } from "effect"
import { ConfigMaps } from "./ConfigMaps.js"
import type { ContextInfo } from "./ContextInfo.js"
import type { LeaderElectionConfigError, LeaderElectionError, LeaderUnhealthyError } from "./errors.js"
import type { Election, Leadership } from "./internal/election.js"
import * as Health from "./internal/health.js"
import * as LeaderForLife from "./internal/leaderForLife.js"
import * as LeaseLock from "./internal/leaseLock.js"
import type { K8sError } from "./K8sError.js"
import { LeaderLocks } from "./LeaderLocks.js"
import type { Leases } from "./Leases.js"
import type { Pods } from "./Pods.js"
import { LeaderLockKind, type ObjectMeta } from "./resources.js"

export type {
  /** @since 0.1.0 */
  Leadership
} from "./internal/election.js"

export type {
  /** @since 0.1.0 */
  LeaderStatus
} from "./internal/health.js"

/**
 * Options of the leader-for-life locks (`configMapLock`, `customLeaderLock`).
 *
 * @since 0.1.0
 */
export type LeaderForLifeOptions = LeaderForLife.LeaderForLifeOptions

/**
 * Options of the Lease lock (`leaseLock`).
 *
 * @since 0.1.0
 */
export type LeaseLockOptions = LeaseLock.LeaseLockOptions

/**
 * The leader election service. Build it with one of the lock layers: `LeaderElection.configMapLock`,
 * `LeaderElection.customLeaderLock` or `LeaderElection.leaseLock`.
 *
 * @since 0.1.0
 */
export class LeaderElection extends Context.Service<LeaderElection, {
  /**
   * Waits until this replica leads; it leads until the scope closes, then releases the lock. A service leads once at
   * a time: a second leadership waits for the first to end.
   */
  readonly leadership: Effect.Effect<Leadership, LeaderElectionError, Scope.Scope>
  /**
   * Waits until this replica leads, runs `effect`, releases, and returns `Some(result)`; `None` when leadership
   * was lost first (the effect is then interrupted). The effect's own failure passes through unchanged. A service
   * leads once at a time: a second call waits for the first to end, and a call nested in its own runAsLeader dies.
   */
  readonly runAsLeader: <A, E, R>(
    effect: Effect.Effect<A, E, R>
  ) => Effect.Effect<Option.Option<A>, E | LeaderElectionError, R>
  /**
   * The current holder of the lock (`None` while free), then every change of holder: client-go's OnNewLeader.
   * Fails only when the lock cannot be read or watched at all (a 403).
   */
  readonly leaderChanges: Stream.Stream<Option.Option<string>, K8sError>
  /**
   * What this replica believes about its own leadership: whether it leads, since when, and when it last renewed
   * (monotonic milliseconds). Read by the health check (`LeaderElection.healthCheck`, `HealthCheck`).
   */
  readonly status: Effect.Effect<Health.LeaderStatus>
}>()("effect-k8s-leader/LeaderElection") {
  /**
   * Leader for life on a ConfigMap named `name`, owned by this replica's Pod.
   *
   * @since 0.1.0
   */
  static configMapLock(
    name: string,
    options?: LeaderForLifeOptions
  ): Layer.Layer<LeaderElection, never, ContextInfo | Pods | ConfigMaps> {
    return Layer.effect(
      LeaderElection,
      Effect.flatMap(
        ConfigMaps,
        (service) => LeaderForLife.make({ service, make: (metadata: ObjectMeta) => ({ metadata }) }, name, options)
      ).pipe(
        Effect.map(fromElection)
      )
    )
  }

  /**
   * Leader for life on a `LeaderLock` custom resource named `name`, owned by this replica's Pod. Needs the CRD
   * in `deploy/crds/` (see `LeaderLocks.ensureDefinition`).
   *
   * @since 0.1.0
   */
  static customLeaderLock(
    name: string,
    options?: LeaderForLifeOptions
  ): Layer.Layer<LeaderElection, never, ContextInfo | Pods | LeaderLocks> {
    return Layer.effect(
      LeaderElection,
      Effect.flatMap(LeaderLocks, (service) =>
        LeaderForLife.make(
          {
            service,
            make: (metadata: ObjectMeta) => ({
              apiVersion: `${LeaderLockKind.group}/${LeaderLockKind.version}`,
              kind: LeaderLockKind.kind,
              metadata,
              spec: {}
            })
          },
          name,
          options
        )).pipe(Effect.map(fromElection))
    )
  }

  /**
   * A Lease lock that speaks client-go's protocol, so Go candidates and ours can share one Lease. Unlike leader
   * for life, leadership can be lost: the protected effect is then interrupted and `runAsLeader` returns `None`;
   * `.pipe(Effect.repeat({ while: Option.isNone }))` enters the election again. Fails with
   * `LeaderElectionConfigError` when the settings break a rule.
   *
   * @since 0.1.0
   */
  static leaseLock(
    name: string,
    options?: LeaseLockOptions
  ): Layer.Layer<LeaderElection, LeaderElectionConfigError, ContextInfo | Leases> {
    return Layer.effect(LeaderElection, Effect.map(LeaseLock.make(name, options), fromElection))
  }

  /**
   * Runs `effect` while this replica leads; see the service's `runAsLeader`.
   *
   * @since 0.1.0
   */
  static runAsLeader<A, E, R>(
    effect: Effect.Effect<A, E, R>
  ): Effect.Effect<Option.Option<A>, E | LeaderElectionError, R | LeaderElection> {
    return Effect.flatMap(LeaderElection, (election: LeaderElection["Service"]) => election.runAsLeader(effect))
  }

  /**
   * Leads until the scope closes; see the service's `leadership`.
   *
   * @since 0.1.0
   */
  static readonly leadership: Effect.Effect<Leadership, LeaderElectionError, Scope.Scope | LeaderElection> = Effect
    .flatMap(LeaderElection, (election: LeaderElection["Service"]) => election.leadership)

  /**
   * The current holder, then every change; see the service's `leaderChanges`.
   *
   * @since 0.1.0
   */
  static readonly leaderChanges: Effect.Effect<Stream.Stream<Option.Option<string>, K8sError>, never, LeaderElection> =
    Effect
      .map(LeaderElection, (election: LeaderElection["Service"]) => election.leaderChanges)

  /**
   * What this replica believes about its own leadership; see the service's `status`.
   *
   * @since 0.1.0
   */
  static readonly status: Effect.Effect<Health.LeaderStatus, never, LeaderElection> = Effect.flatMap(
    LeaderElection,
    (election: LeaderElection["Service"]) => election.status
  )

  /**
   * client-go's HealthzAdaptor: fails with `LeaderUnhealthyError` when this replica believes it leads a Lease but
   * its last successful renew started more than `leaseDuration + timeout` ago (default timeout 20 s). Not leading,
   * and leading for life, are healthy. `HealthCheck.layer` serves it as `/healthz`.
   *
   * @since 0.1.0
   */
  static healthCheck(
    timeout?: Duration.Input
  ): Effect.Effect<void, LeaderUnhealthyError, LeaderElection> {
    return Effect.flatMap(
      LeaderElection,
      (election: LeaderElection["Service"]) => Health.check(election.status, timeout)
    )
  }
}

/** The elections whose `runAsLeader` the current fiber runs inside (forked fibers inherit it). */
const InsideRunAsLeader = Context.Reference<ReadonlySet<Election>>("effect-k8s-leader/insideRunAsLeader", {
  defaultValue: () => new Set()
})

const fromElection = (election: Election): LeaderElection["Service"] => ({
  leadership: election.leadership,
  leaderChanges: election.leaderChanges,
  status: election.status,
  runAsLeader: (effect) =>
    Effect.flatMap(InsideRunAsLeader, (inside) =>
      // A service leads once at a time: nested in its own runAsLeader, a second one would wait for itself forever.
      inside.has(election)
        ? Effect.die(
          new Error(
            "runAsLeader was called inside a runAsLeader of the same LeaderElection service: it would wait for " +
              "itself forever (a service leads once at a time). Run the inner effect directly: it already runs as " +
              "the leader."
          )
        )
        : Effect.scoped(
          Effect.flatMap(election.leadership, (leadership) =>
            // raceFirst: the effect's failure passes through, and on loss the effect is interrupted (and has
            // finished its finalizers) before the lock is released.
            Effect.raceFirst(
              Effect.map(Effect.provideService(effect, InsideRunAsLeader, new Set([...inside, election])), Option.some),
              Effect.as(leadership.ended, Option.none())
            ))
        ))
})

/**
 * Runs `effect` while this replica leads: `Some(result)`, or `None` when leadership was lost first.
 *
 * @since 0.1.0
 */
export const runAsLeader = LeaderElection.runAsLeader
