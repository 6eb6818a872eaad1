/**
 * One leadership lifecycle for every lock: wait for the service's turn, acquire, register the release, keep the
 * gauge and the health status, watch for loss, end. A lock only supplies its protocol (`Lock`).
 */
import {
  Cause,
  Deferred,
  type Duration,
  Effect,
  Exit,
  Fiber,
  Metric,
  Option,
  type Scope,
  Semaphore,
  type Stream
} from "effect"
import type { LeaderElectionError } from "../errors.js"
import type { K8sError } from "../K8sError.js"
import { type LeaderStatus, makeStatus } from "./health.js"
import { forLock, leaderStatus, transitions } from "./metrics.js"

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
   * A fencing token that strictly grows with every new leadership of the lock, across changes of holder and the
   * deletion and re-creation of the lock: the resourceVersion of the write that acquired it (etcd's revision, one
   * counter for the whole cluster). Pass it along with writes to resources the leader guards, so they can refuse
   * a former leader's late writes. See docs/lease.md for servers whose resourceVersions are not integers.
   */
  readonly term: number
  /** Completes when this replica stops leading before its scope closes. */
  readonly lost: Effect.Effect<void>
}

/**
 * A leadership as the lifecycle hands it out: `ended` also tells why it ended.
 *
 * @internal
 */
export interface ElectedLeadership extends Leadership {
  /** Completes with `lost`; fails instead when leadership ended on an error no retry fixes (a 403), dies on a defect. */
  readonly ended: Effect.Effect<void, LeaderElectionError>
}

/**
 * What a lock got when it acquired: what it needs to renew, watch and release (`held`), the fencing term, and when
 * leading began on the monotonic clock (for a Lease, the start of the acquiring write).
 *
 * @internal
 */
export interface Acquired<Held> {
  readonly held: Held
  readonly term: number
  readonly startedAt: number
}

/**
 * The protocol of one kind of lock. The lifecycle calls `acquire` at most once at a time per service, `release` in
 * the leadership's finalizer, and runs `watchForLoss` while leading: however it ends (a loss it returns, an error,
 * a defect, an interruption from inside), leadership ends.
 *
 * @internal
 */
export interface Lock<Held> {
  readonly name: string
  readonly namespace: string
  readonly identity: string
  /** How long other candidates honour a renew, for the health check; `None` for leader for life. */
  readonly leaseDuration: Option.Option<Duration.Duration>
  /** Waits until this replica holds the lock; interruptible. Its scope is the leadership's. */
  readonly acquire: Effect.Effect<Acquired<Held>, LeaderElectionError, Scope.Scope>
  /**
   * Gives the lock up; runs uninterruptibly, so it bounds its own requests. It runs before the watch for loss is
   * interrupted: a lock whose watch for loss writes (renews) stops writing when its release begins.
   */
  readonly release: (held: Held) => Effect.Effect<void>
  /** Runs while leading; returns why leadership was lost. `renewed` feeds the health status. */
  readonly watchForLoss: (
    held: Held,
    renewed: (at: number) => Effect.Effect<void>
  ) => Effect.Effect<string, LeaderElectionError, Scope.Scope>
  readonly leaderChanges: Stream.Stream<Option.Option<string>, K8sError>
  /**
   * Runs in the layer's scope for the service's lifetime. `whenIdle` runs an effect only while no leadership of this
   * service is acquiring or leading (`None` otherwise).
   */
  readonly background?: (
    whenIdle: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<Option.Option<A>, E, R>
  ) => Effect.Effect<void, never, Scope.Scope>
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
 * The lifecycle over `lock`. One service leads at most once at a time: a second `leadership` (or `runAsLeader`) on
 * the same service waits for the first to end, as another replica would, so two protected effects of one process
 * never run at once either.
 *
 * @internal
 */
export const make = <Held>(lock: Lock<Held>): Effect.Effect<Election, never, Scope.Scope> =>
  Effect.gen(function*() {
    const status = yield* makeStatus(lock.leaseDuration)
    const oneAtATime = yield* Semaphore.make(1)
    const gauge = forLock(lock.name)(leaderStatus)
    const annotate = Effect.annotateLogs({ lock: lock.name, namespace: lock.namespace, identity: lock.identity })
    const stopLeading = Effect.andThen(Metric.update(gauge, 0), status.stop)

    if (lock.background !== undefined) {
      yield* Effect.forkScoped(annotate(lock.background(oneAtATime.withPermitsIfAvailable(1))))
    }

    const leadership: Election["leadership"] = Effect.gen(function*() {
      // Waiting for the service's turn is interruptible, like waiting for the lock.
      yield* Effect.uninterruptibleMask((restore) =>
        Effect.andThen(restore(oneAtATime.take(1)), Effect.addFinalizer(() => oneAtATime.release(1)))
      )
      /**
       * The watch for loss, once forked. Closing the scope releases first, then interrupts it: that interruption (a
       * tree of racing fibers and streams) costs milliseconds of work, which would delay the release and so the next
       * leader. A lock whose watch for loss writes (the Lease's renews) stops writing when its release begins.
       */
      let watcher: Fiber.Fiber<void> | undefined
      let releasing = false
      const acquired = yield* Effect.uninterruptibleMask((restore) =>
        restore(lock.acquire).pipe(
          Effect.tap(({ held }) =>
            Effect.addFinalizer(() =>
              Effect.gen(function*() {
                releasing = true
                yield* lock.release(held)
                yield* stopLeading
                if (watcher !== undefined) yield* Fiber.interrupt(watcher)
              })
            )
          )
        )
      )
      yield* Metric.update(gauge, 1)
      yield* Metric.update(forLock(lock.name)(transitions), 1)
      yield* status.lead(acquired.startedAt)

      const lost = yield* Deferred.make<void>()
      const failure = yield* Deferred.make<never, LeaderElectionError>()
      const end = (exit: Exit.Exit<string, LeaderElectionError>) =>
        // Our own release, seen before the interruption arrived, is no loss.
        releasing ? Deferred.succeed(lost, undefined) : Exit.match(exit, {
          onSuccess: (why) => Effect.logWarning(`leadership lost: ${why}`),
          onFailure: (cause) =>
            Effect.andThen(
              Option.match(Cause.findErrorOption(cause), {
                onSome: (error) => Effect.logError(`leadership ended: ${error.message}`),
                onNone: () => Effect.logError("leadership ended: the watch for loss died", cause)
              }),
              Effect.asVoid(Deferred.failCause(failure, cause))
            )
        }).pipe(Effect.andThen(stopLeading), Effect.andThen(Deferred.succeed(lost, undefined)))
      // Safety first: whatever ends the watch for loss ends the leadership; only the scope closing interrupts it.
      watcher = yield* lock.watchForLoss(acquired.held, status.renewed).pipe(
        Effect.exit,
        Effect.flatMap(end),
        Effect.asVoid,
        annotate,
        Effect.forkDetach
      )

      return {
        lock: lock.name,
        namespace: lock.namespace,
        identity: lock.identity,
        term: acquired.term,
        lost: Deferred.await(lost),
        ended: Effect.andThen(
          Deferred.await(lost),
          Effect.flatMap(Deferred.poll(failure), Option.getOrElse(() => Effect.void))
        )
      } satisfies ElectedLeadership
    }).pipe(annotate)

    return { leadership, leaderChanges: lock.leaderChanges, status: status.get } satisfies Election
  })
