/**
 * The leader-for-life election (operator-lib's `leader.Become`), generic over the lock resource: the lock is an
 * object owned by the leader's Pod, so the garbage collector frees it when the Pod is gone.
 */
import { Cause, Duration, Effect, Metric, Option, Schedule, Stream } from "effect"
import { ContextInfo } from "../ContextInfo.js"
import { ContextInfoError, LockUnavailableError } from "../errors.js"
import { isTransient, type K8sError } from "../K8sError.js"
import { Pods } from "../Pods.js"
import {
  isTerminated,
  type KubernetesObject,
  type ObjectMeta,
  type OwnerReference,
  type Pod,
  type ResourceService
} from "../resources.js"
import { type ElectedLeadership, type Election, makeEnding } from "./election.js"
import { makeStatus } from "./health.js"
import { forLock, leaderStatus, transitions } from "./metrics.js"
import { observe } from "./observe.js"
import { jittered, monotonicMillis } from "./time.js"

/**
 * How a resource type serves as a lock.
 *
 * @internal
 */
export interface LockResource<T extends KubernetesObject> {
  readonly service: ResourceService<T>
  /** A new lock object with this metadata. */
  readonly make: (metadata: ObjectMeta) => T
}

/**
 * @since 0.1.0
 */
export interface LeaderForLifeOptions {
  /**
   * When to try again while another replica holds the lock (a watch wakes the wait earlier when the lock or its
   * holder's Pod goes), and after transient API errors. Default: exponential from 1 s, x2, capped at 30 s,
   * jittered, forever. A schedule that ends makes the election fail with `LockUnavailableError`.
   */
  readonly retrySchedule?: Schedule.Schedule<unknown, unknown> | undefined
  /** Delete the lock when the leadership's scope closes. Default true. */
  readonly deleteLockOnRelease?: boolean | undefined
}

/** A release that cannot finish in this time is abandoned: the lock still goes with the Pod. */
const releaseTimeout = Duration.seconds(10)

/** 1, 2, 4, 8, 16, 30, 30... seconds, each jittered by 0.8 to 1.2. */
export const defaultRetrySchedule: Schedule.Schedule<unknown, unknown> = Schedule.exponential("1 second", 2).pipe(
  Schedule.union(Schedule.spaced("30 seconds")),
  (schedule) => jittered(schedule)
)

type Attempt<T> =
  | { readonly _tag: "Acquired"; readonly lock: T; readonly reentered: boolean }
  | {
    readonly _tag: "Held"
    readonly holder: OwnerReference | undefined
    /** The holder's Pod is already gone: only the garbage collector (or the schedule) frees the lock. */
    readonly holderPodGone: boolean
  }
  | { readonly _tag: "Again" }
  | { readonly _tag: "Failed"; readonly error: K8sError }

const podOwner = (object: KubernetesObject): OwnerReference | undefined =>
  object.metadata.ownerReferences?.find((ref) => ref.kind === "Pod" && ref.apiVersion === "v1")

/** @internal */
export const make = <T extends KubernetesObject>(
  lockResource: LockResource<T>,
  lockName: string,
  options: LeaderForLifeOptions = {}
) =>
  Effect.gen(function*() {
    const { namespace, podName } = yield* ContextInfo
    const pods = yield* Pods
    const locks = lockResource.service
    const retrySchedule = options.retrySchedule ?? defaultRetrySchedule
    const deleteLockOnRelease = options.deleteLockOnRelease ?? true
    const status = forLock(lockName)(leaderStatus)
    const annotate = Effect.annotateLogs({ lock: lockName, namespace, identity: podName })
    // Health check hook (./health.ts): leading with no renew needed, so always healthy while leading.
    const health = yield* makeStatus(Option.none())

    const ownPod: Effect.Effect<Pod, K8sError | ContextInfoError> = pods.get(podName, namespace).pipe(
      Effect.catchIf((error) => error.reason === "NotFound", (error) =>
        new ContextInfoError({
          missing: "pod",
          detail:
            `POD_NAME is "${podName}" but there is no such Pod in namespace "${namespace}": set POD_NAME from the downward API (fieldPath: metadata.name)`,
          cause: error
        }))
    )

    /** Deletes a lock our Pod owns, after a create whose answer was lost to an interruption. */
    const deleteIfOurs = (ownerUid: string) =>
      // Runs while interrupting (uninterruptible): only an interruptible request can be cut by the timeout.
      Effect.interruptible(locks.get(lockName, namespace)).pipe(
        Effect.flatMap((lock) =>
          podOwner(lock)?.uid === ownerUid
            ? Effect.interruptible(locks.delete(lockName, namespace, { preconditions: { uid: lock.metadata.uid } }))
            : Effect.void
        ),
        Effect.timeout("5 seconds"),
        Effect.catchAllCause((cause) => Effect.logDebug("no lock to clean up after interruption", cause))
      )

    const attempt = (owner: OwnerReference): Effect.Effect<Attempt<T>> =>
      Effect.gen(function*() {
        const created = yield* locks.create(
          lockResource.make({ name: lockName, namespace, ownerReferences: [owner] })
        ).pipe(Effect.onInterrupt(() => deleteIfOurs(owner.uid)), Effect.either)
        if (created._tag === "Right") return { _tag: "Acquired", lock: created.right, reentered: false } as const
        if (created.left.reason !== "AlreadyExists") return yield* created.left

        const existing = yield* locks.get(lockName, namespace).pipe(
          Effect.map(Option.some),
          Effect.catchIf((error) => error.reason === "NotFound", () => Effect.succeedNone)
        )
        if (Option.isNone(existing)) return { _tag: "Again" } as const
        const lock = existing.value
        const holder = podOwner(lock)
        // The uid, never only the name: a Pod re-created with our name is not the owner.
        if (holder?.uid === owner.uid) return { _tag: "Acquired", lock, reentered: true } as const
        if (holder === undefined) return { _tag: "Held", holder, holderPodGone: false } as const

        const holderPod = yield* pods.get(holder.name, namespace).pipe(
          Effect.map(Option.some),
          Effect.catchIf((error) => error.reason === "NotFound", () => Effect.succeedNone)
        )
        const holderIsGone = Option.isNone(holderPod) || holderPod.value.metadata.uid !== holder.uid
        if (holderIsGone || !isTerminated(holderPod.value)) {
          return { _tag: "Held", holder, holderPodGone: holderIsGone } as const
        }

        // A Pod that ended (Failed, Succeeded, evicted) keeps its object, so the garbage collector will not free
        // the lock: remove it ourselves, but only this very object as we saw it.
        yield* Effect.logInfo(
          `lock holder ${holder.name} has terminated (${holderPod.value.status?.phase}/${
            holderPod.value.status?.reason ?? "-"
          }); deleting its stale lock`
        )
        yield* locks.delete(lockName, namespace, {
          preconditions: { uid: lock.metadata.uid, resourceVersion: lock.metadata.resourceVersion }
        }).pipe(
          Effect.catchIf((error) => error.reason === "NotFound" || error.reason === "Conflict", () => Effect.void)
        )
        return { _tag: "Again" } as const
      }).pipe(
        Effect.catchAll((error) => Effect.succeed({ _tag: "Failed", error } as const))
      )

    /**
     * Completes when the lock is gone or no longer held by `holder`, or the holder's Pod is gone or ended. When the
     * holder's Pod was already gone, only the lock is watched: the Pod's absence would end the wait at once, and
     * the attempt would be repeated in a tight loop until the garbage collector deletes the lock.
     */
    const holderLeaves = (holder: OwnerReference | undefined, holderPodGone: boolean) =>
      Effect.raceFirst(
        observe(locks, lockName, namespace).pipe(
          Stream.filter((lock) => Option.isNone(lock) || podOwner(lock.value)?.uid !== holder?.uid),
          Stream.runHead
        ),
        holder === undefined || holderPodGone ? Effect.never : observe(pods, holder.name, namespace).pipe(
          Stream.filter((pod) =>
            Option.isNone(pod) || pod.value.metadata.uid !== holder.uid || isTerminated(pod.value)
          ),
          Stream.runHead
        )
      )

    const acquire = Effect.gen(function*() {
      yield* Effect.logInfo("acquiring leader-for-life lock")
      const pod = yield* ownPod.pipe(
        Effect.tapError((error) => Effect.logWarning(`reading own Pod failed: ${error.message}`)),
        Effect.retry({ schedule: retrySchedule, while: (error) => error._tag === "K8sError" && isTransient(error) })
      )
      const owner: OwnerReference = { apiVersion: "v1", kind: "Pod", name: podName, uid: pod.metadata.uid ?? "" }
      const retry = yield* Schedule.driver(retrySchedule)
      let lastHolder: string | undefined
      const backOff = (holder: string | undefined) =>
        retry.next(undefined).pipe(
          Effect.catchAll(() => new LockUnavailableError({ lock: lockName, namespace, holder }))
        )

      while (true) {
        const outcome = yield* attempt(owner)
        switch (outcome._tag) {
          case "Acquired": {
            yield* Effect.logInfo(outcome.reentered ? "acquired: the lock was already ours" : "acquired")
            return outcome.lock
          }
          case "Again": {
            yield* Effect.logDebug("lock changed under us; trying again at once")
            break
          }
          case "Failed": {
            if (!isTransient(outcome.error)) return yield* outcome.error
            yield* Effect.logWarning(`lock attempt failed, retrying: ${outcome.error.message}`)
            yield* backOff(lastHolder)
            break
          }
          case "Held": {
            const holder = outcome.holder?.name ?? "an owner that is not a Pod"
            if (holder !== lastHolder) {
              yield* Effect.logInfo(`waiting for ${holder}`)
              lastHolder = holder
              yield* retry.reset
            }
            yield* Effect.raceFirst(holderLeaves(outcome.holder, outcome.holderPodGone), backOff(holder))
            break
          }
        }
      }
    }).pipe(Effect.withSpan("leaderForLife.acquire", { attributes: { lock: lockName, namespace } }))

    const release = (lock: T) =>
      deleteLockOnRelease
        // A finalizer is uninterruptible: only an interruptible request can be cut by the timeout.
        ? Effect.interruptible(locks.delete(lockName, namespace, { preconditions: { uid: lock.metadata.uid } })).pipe(
          Effect.timeout(releaseTimeout),
          Effect.zipRight(Effect.logInfo("released")),
          // NotFound, or a Conflict on the uid precondition: the lock is no longer ours, nothing to release.
          Effect.catchIf(
            (error) => error._tag === "K8sError" && (error.reason === "NotFound" || error.reason === "Conflict"),
            () => Effect.logInfo("released: the lock was already gone or no longer ours")
          ),
          Effect.catchAllCause((cause) =>
            Effect.logWarning(`releasing the lock failed; it goes with this Pod: ${Cause.squash(cause)}`)
          ),
          Effect.withSpan("leaderForLife.release", { attributes: { lock: lockName, namespace } })
        )
        : Effect.logInfo("leaving the lock in place (deleteLockOnRelease: false); it goes with this Pod")

    const leadership: Election["leadership"] = Effect.gen(function*() {
      const lock = yield* Effect.uninterruptibleMask((restore) =>
        restore(acquire).pipe(
          Effect.tap((lock) =>
            Effect.addFinalizer(() => release(lock).pipe(Effect.zipRight(Metric.set(status, 0)), annotate))
          )
        )
      )
      yield* Metric.set(status, 1)
      yield* Metric.increment(forLock(lockName)(transitions))
      // Leader for life is never taken away by the protocol. Should the lock still vanish or change hands (deleted
      // by hand, or our Pod object already gone), stop at once rather than lead beside another replica.
      const ending = yield* makeEnding
      // Health check hook: leading from acquisition until a loss is noticed or the scope closes.
      yield* Effect.flatMap(monotonicMillis, health.lead)
      yield* Effect.addFinalizer(() => health.stop)
      yield* Effect.forkScoped(Effect.zipRight(ending.lost, health.stop))
      yield* observe(locks, lockName, namespace).pipe(
        Stream.filter((current) => Option.isNone(current) || current.value.metadata.uid !== lock.metadata.uid),
        Stream.runHead,
        Effect.zipRight(ending.lose("the lock was deleted or replaced while leading")),
        Effect.catchAll(ending.fail),
        Effect.zipRight(Metric.set(status, 0)),
        annotate,
        Effect.forkScoped
      )
      return {
        lock: lockName,
        namespace,
        identity: podName,
        term: Number(lock.metadata.resourceVersion ?? 0),
        lost: ending.lost,
        ended: ending.ended
      } satisfies ElectedLeadership
    }).pipe(annotate)

    const leaderChanges: Election["leaderChanges"] = observe(locks, lockName, namespace).pipe(
      Stream.map(Option.flatMap((lock) => Option.fromNullable(podOwner(lock)?.name))),
      Stream.changesWith(Option.getEquivalence((a, b) => a === b))
    )

    return { leadership, leaderChanges, status: health.get } satisfies Election
  })
