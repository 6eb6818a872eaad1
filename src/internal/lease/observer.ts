/**
 * Step 2 of the Lease lock: what one candidate saw of the Lease and when, on its own monotonic clock. client-go
 * judges expiry this way (`observedTime` + the record's duration), so clocks of different machines never meet. The
 * judgement itself (`judge`, which writes wake a wait) is in `./record.ts`, shared with the Effect 4 edition.
 */
import {
  Cause,
  Deferred,
  Duration,
  Effect,
  Exit,
  FiberId,
  Option,
  Schedule,
  type Scope,
  type Stream,
  SubscriptionRef
} from "effect"
import type { K8sError } from "../../K8sError.js"
import type { Lease, ResourceService } from "../../resources.js"
import { observeInto, versionOrder } from "../observe.js"
import { jittered, monotonicMillis } from "../time.js"
import { holderOf as recordHolder, judge, sameRecord, sameWaitingState } from "./record.js"
import type { LeaseSettings } from "./settings.js"

/** What this candidate last saw of the Lease, and until when (on its own monotonic clock) someone holds it. */
export interface Observed {
  readonly lease: Option.Option<Lease>
  /** When the record last changed. */
  readonly observedAt: number
  /**
   * Counts the changes a wait can act on: of the holder, of the record's duration, of the Lease object itself (gone,
   * re-created). A renew by the same holder (renewTime, acquireTime, transitions) only pushes the expiry later: no
   * wait is woken by it, each acts on the new expiry when its own timer fires.
   */
  readonly version: number
  /** Who holds the Lease for followers: the record's holder, or the last holder of a Lease deleted while held. */
  readonly holder: string
  /** Until when `holder` holds it (0: free). */
  readonly heldUntil: number
}

/** The holder the record names; "" when there is none (or no Lease). */
export const holderOf = (lease: Option.Option<Lease>): string => recordHolder(Option.getOrUndefined(lease))

/** Never let an older version of the record win over a newer one. */
const isOlder = (candidate: Lease, current: Lease) =>
  (versionOrder(candidate.metadata.resourceVersion, current.metadata.resourceVersion) ?? 0) < 0

/**
 * One candidate's view of the Lease, fed by its watch and by its own reads and writes (`see`). The watch lives in
 * `scope`; each (re)connection starts with a GET, and while it is down reconnects poll every retryPeriod, jittered
 * as client-go's acquire loop is. However the watch ends for good (a 403, a defect), `failed` ends with it, and so
 * does every wait on the observer.
 */
export const makeObserver = (
  leases: ResourceService<Lease>,
  lockName: string,
  namespace: string,
  settings: LeaseSettings
): Effect.Effect<Observer, K8sError, Scope.Scope> =>
  Effect.gen(function*() {
    const ownLeaseDuration = Duration.toMillis(settings.leaseDuration)
    let state: Observed = { lease: Option.none(), observedAt: 0, version: 0, holder: "", heldUntil: 0 }
    /** The record's holder ("" for none), for `leaderChanges`: set only when it changes. */
    const holders = yield* SubscriptionRef.make("")
    const ready = yield* Deferred.make<void>()
    const failed = yield* Deferred.make<never, K8sError>()
    /**
     * Completed at the next change a wait acts on (and replaced), failed when the watch ended for good: the waits of
     * the acquire loop and of the deadline are woken by it directly, not through a stream of the state.
     */
    let changed = Deferred.unsafeMake<void, K8sError>(FiberId.none)
    let ended: Cause.Cause<K8sError> | undefined
    const signalChange = () => {
      const previous = changed
      changed = Deferred.unsafeMake<void, K8sError>(FiberId.none)
      if (ended !== undefined) Deferred.unsafeDone(changed, Exit.failCause(ended))
      Deferred.unsafeDone(previous, ended === undefined ? Exit.void : Exit.failCause(ended))
    }
    // Every event of a follower goes through here (a renew of its leader every retryPeriod): plain state, and work
    // for other fibers only when the holder or what the waits act on changed. Uninterruptible: an interruption
    // between the state and the holders would leave `leaderChanges` behind for good.
    const see = (lease: Option.Option<Lease>) =>
      Effect.uninterruptible(Effect.flatMap(monotonicMillis, (now) => {
        const current = state
        if (Option.isSome(lease) && Option.isSome(current.lease) && isOlder(lease.value, current.lease.value)) {
          return Effect.void
        }
        const [before, after] = [Option.getOrUndefined(current.lease), Option.getOrUndefined(lease)]
        if (sameRecord(before, after)) {
          state = { ...current, lease }
          return Effect.void
        }
        const wake = !sameWaitingState(before, after)
        state = {
          lease,
          observedAt: now,
          version: current.version + (wake ? 1 : 0),
          ...judge(
            { lease: before, holder: current.holder, heldUntil: current.heldUntil },
            after,
            now,
            ownLeaseDuration
          )
        }
        // The holder is published before any wait wakes, and read from the state when it is written: a woken
        // candidate can take the Lease and record its own write before this one is done (in Effect 4 a woken fiber
        // runs inside signalChange), and an older holder written after it would stay in leaderChanges for good.
        const publish = holderOf(lease) === holderOf(current.lease)
          ? Effect.void
          : Effect.suspend(() => SubscriptionRef.set(holders, holderOf(state.lease)))
        return wake ? Effect.zipRight(publish, Effect.sync(signalChange)) : publish
      }))
    const reconnect = jittered(Schedule.spaced(settings.retryPeriod), 1, 2.2)
    const end = (cause: Cause.Cause<K8sError>) =>
      Effect.suspend(() => {
        ended = cause
        signalChange()
        return Deferred.failCause(failed, cause)
      })
    yield* observeInto(leases, lockName, namespace, reconnect, ({ object }) =>
      Effect.zipRight(see(object), Deferred.succeed(ready, undefined))).pipe(
        Effect.onExit((exit) =>
          exit._tag === "Failure" ? end(exit.cause) : Effect.void
        ),
        // The loop ends only on a failure (its schedule never ends); should it end otherwise, waiting on it would hang:
        // end it as a defect.
        Effect.zipRight(Effect.suspend(() =>
          end(Cause.die(new Error(`the watch of Lease ${lockName} ended`)))
        )),
        Effect.forkScoped
      )
    yield* Effect.raceFirst(Deferred.await(ready), Deferred.await(failed))
    const nextChange = (after: Observed) =>
      Effect.suspend(() => {
        // The version and the signal are read together, synchronously: no change can come between them.
        return state.version > after.version ? Effect.void : Deferred.await(changed)
      })
    return {
      get: Effect.sync(() => state),
      holders: holders.changes,
      see,
      nextChange,
      failed: Deferred.await(failed)
    }
  })

/** @internal */
export interface Observer {
  readonly get: Effect.Effect<Observed>
  /** The record's holder ("" for none) once known, then each change of it. */
  readonly holders: Stream.Stream<string>
  /** Records a Lease this candidate read or wrote. */
  readonly see: (lease: Option.Option<Lease>) => Effect.Effect<void>
  /**
   * Completes at the next change a wait acts on after `after` (see `Observed.version`); fails when the watch ended
   * for good.
   */
  readonly nextChange: (after: Observed) => Effect.Effect<void, K8sError>
  /** Fails (or dies) when the watch ended for good; never completes otherwise. */
  readonly failed: Effect.Effect<never, K8sError>
}
