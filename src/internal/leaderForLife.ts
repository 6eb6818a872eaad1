/**
 * The leader-for-life lock (operator-lib's `leader.Become`), generic over the lock resource: the lock is an object
 * owned by the leader's Pod, so the garbage collector frees it when the Pod is gone. The lifecycle around it is
 * `./election.ts`; who owns a lock, its marks and what ends a leadership are in `./lockOwner.ts`, shared with the
 * Effect 4 edition.
 */
import { Cause, Clock, Duration, Effect, Option, Schedule, Stream, SubscriptionRef } from "effect"
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
import { type Lock, make as makeElection } from "./election.js"
import { isReleased, lossReason, podOwner, reenteredAnnotations, releasedAnnotations, stillHeld } from "./lockOwner.js"
import { observe } from "./observe.js"
import { type ObjectWatch, sharedObjectWatch } from "./sharedWatch.js"
import { termOf } from "./term.js"
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

/**
 * How long a follower waits after a lock was deleted while its holder's Pod runs (not by the garbage collector, not
 * released): time for the holder to see the deletion on its watch and stop, which takes milliseconds.
 */
const holderGrace = Duration.seconds(1)

/** A release that cannot finish in this time is abandoned: the lock still goes with the Pod. */
const releaseTimeout = Duration.seconds(10)

/** 1, 2, 4, 8, 16, 30, 30... seconds, each jittered by 0.8 to 1.2. */
export const defaultRetrySchedule: Schedule.Schedule<unknown, unknown> = Schedule.exponential("1 second", 2).pipe(
  Schedule.union(Schedule.spaced("30 seconds")),
  (schedule) => jittered(schedule)
)

type Attempt<T> =
  | { readonly _tag: "Acquired"; readonly lock: T; readonly reentered: boolean }
  /** Wait until the lock goes or changes owner, or the holder's Pod goes or ends (unless already gone). */
  | { readonly _tag: "Held"; readonly holder: OwnerReference | undefined; readonly holderPodGone: boolean }
  /** The lock changed between our requests: judge again. */
  | { readonly _tag: "Again" }
  | { readonly _tag: "Failed"; readonly error: K8sError }

const optional = <A>(request: Effect.Effect<A, K8sError>): Effect.Effect<Option.Option<A>, K8sError> =>
  request.pipe(
    Effect.map(Option.some),
    Effect.catchIf((error) => error.reason === "NotFound", () => Effect.succeed(Option.none<A>()))
  )

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
    const attributes = { lock: lockName, namespace }
    /**
     * The owner uid of a create whose outcome we never learnt (aborted, timed out). The server may commit it later,
     * even after our cleanup looked: the lock would then be owned by our live Pod while nobody leads.
     */
    const uncertainCreate = yield* SubscriptionRef.make(Option.none<string>())
    /** The one watch of the lock of this service, shared by its waits, its watch for loss and its subscribers. */
    const lockWatch = yield* sharedObjectWatch(locks, lockName, namespace)
    const lockChanges = Stream.unwrapScoped(Effect.map(lockWatch, (watch) => watch.changes))
    /** What we read or wrote of the lock: waits on the watch start from it, not from an older event. */
    const see = (watch: ObjectWatch<T>, lock: Option.Option<T>) =>
      watch.see({ object: lock, resourceVersion: Option.getOrUndefined(lock)?.metadata.resourceVersion })

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

    const create = (owner: OwnerReference) =>
      locks.create(lockResource.make({ name: lockName, namespace, ownerReferences: [owner] })).pipe(
        Effect.tapError((error) =>
          error.reason === "Timeout" || error.reason === "Transport"
            ? SubscriptionRef.set(uncertainCreate, Option.some(owner.uid))
            : Effect.void
        ),
        Effect.onInterrupt(() =>
          Effect.zipRight(SubscriptionRef.set(uncertainCreate, Option.some(owner.uid)), deleteIfOurs(owner.uid))
        )
      )

    /** A lock our Pod already owns (a restarted container, or deleteLockOnRelease: false): write it for a new term. */
    const reenter = (lock: T) =>
      Effect.flatMap(Effect.map(Clock.currentTimeMillis, (millis) => new Date(millis).toISOString()), (at) =>
        // A release mark left by a process of this Pod that died between marking and deleting is void now.
        locks.replace({
          ...lock,
          metadata: { ...lock.metadata, annotations: reenteredAnnotations(lock.metadata.annotations, at) }
        }))

    const attempt = (watch: ObjectWatch<T>, owner: OwnerReference): Effect.Effect<Attempt<T>> =>
      Effect.gen(function*() {
        const created = yield* Effect.either(create(owner))
        if (created._tag === "Right") {
          yield* see(watch, Option.some(created.right))
          return { _tag: "Acquired", lock: created.right, reentered: false } as const
        }
        if (created.left.reason !== "AlreadyExists") {
          return yield* created.left
        }

        const existing = yield* optional(locks.get(lockName, namespace))
        yield* see(watch, existing)
        if (Option.isNone(existing)) {
          return { _tag: "Again" } as const
        }
        const lock = existing.value
        const holder = podOwner(lock)
        // Being deleted (a finalizer holds it): nobody may take it, not even its owner; wait for it to go.
        if (lock.metadata.deletionTimestamp !== undefined) {
          return { _tag: "Held", holder, holderPodGone: true } as const
        }
        // Released by its leader, the delete follows: wait for it on the lock's watch alone.
        if (isReleased(lock) && holder?.uid !== owner.uid) {
          return { _tag: "Held", holder, holderPodGone: true } as const
        }
        // The uid, never only the name: a Pod re-created with our name is not the owner.
        if (holder?.uid === owner.uid) {
          const written = yield* reenter(lock).pipe(Effect.either)
          if (written._tag === "Left" && (written.left.reason === "Conflict" || written.left.reason === "NotFound")) {
            return { _tag: "Again" } as const
          }
          // A Role without `update` (as shipped before 0.2): lead on the lock as it is; its term then repeats.
          if (written._tag === "Left" && written.left.reason === "Forbidden") {
            yield* Effect.logWarning(`re-entering the lock without a write (its term repeats): ${written.left.message}`)
            return { _tag: "Acquired", lock, reentered: true } as const
          }
          if (written._tag === "Left") {
            return yield* written.left
          }
          yield* see(watch, Option.some(written.right))
          return { _tag: "Acquired", lock: written.right, reentered: true } as const
        }
        if (holder === undefined) {
          return { _tag: "Held", holder, holderPodGone: false } as const
        }

        const holderPod = yield* optional(pods.get(holder.name, namespace))
        const holderIsGone = Option.isNone(holderPod) || holderPod.value.metadata.uid !== holder.uid
        if (holderIsGone || !isTerminated(holderPod.value)) {
          return { _tag: "Held", holder, holderPodGone: holderIsGone } as const
        }

        // A Pod that ended (Failed, Succeeded, evicted) keeps its object, so the garbage collector will not free
        // the lock: remove it ourselves, but only this very object as we saw it. Then wait for it to go like for
        // any held lock: a finalizer may keep it after the delete answered.
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
        return { _tag: "Held", holder, holderPodGone: true } as const
      }).pipe(
        Effect.catchAll((error) => Effect.succeed({ _tag: "Failed", error } as const))
      )

    /**
     * Completes when the lock is gone or no longer held by `holder`, or the holder's Pod is gone or ended. When the
     * holder's Pod was already gone, only the lock is watched: the Pod's absence would end the wait at once, and
     * the attempt would be repeated in a tight loop until the garbage collector deletes the lock.
     */
    const holderLeaves = (watch: ObjectWatch<T>, holder: OwnerReference | undefined, holderPodGone: boolean) =>
      Effect.raceFirst(
        watch.changes.pipe(
          Stream.filter((lock) =>
            Option.isNone(lock) || podOwner(lock.value)?.uid !== holder?.uid ||
            (!holderPodGone && isReleased(lock.value))
          ),
          Stream.runHead,
          Effect.map(Option.flatten)
        ),
        holder === undefined || holderPodGone ? Effect.never : observe(pods, holder.name, namespace).pipe(
          Stream.filter((pod) =>
            Option.isNone(pod) || pod.value.metadata.uid !== holder.uid || isTerminated(pod.value)
          ),
          Stream.runHead,
          Effect.as(Option.none<T>())
        )
      )

    /**
     * A lock deleted while its holder's Pod still runs was not freed by the garbage collector (it deletes only what
     * a gone Pod owned): someone deleted it by hand, and the holder may still be leading until its watch shows it.
     * Give it `holderGrace` to see that and stop; the garbage collector's case stays immediate.
     */
    const holderStillRuns = (holder: OwnerReference) =>
      optional(pods.get(holder.name, namespace)).pipe(
        Effect.map(Option.exists((pod) => pod.metadata.uid === holder.uid && !isTerminated(pod))),
        Effect.orElseSucceed(() => true)
      )

    const acquire: Lock<T>["acquire"] = Effect.gen(function*() {
      yield* Effect.logInfo("acquiring leader-for-life lock")
      const watch = yield* lockWatch
      const pod = yield* ownPod.pipe(
        Effect.tapError((error) => Effect.logWarning(`reading own Pod failed: ${error.message}`)),
        Effect.retry({ schedule: retrySchedule, while: (error) => error._tag === "K8sError" && isTransient(error) }),
        Effect.catchIf(
          (error): error is K8sError => error._tag === "K8sError" && isTransient(error),
          (error) => new LockUnavailableError({ lock: lockName, namespace, holder: undefined, lastError: error })
        )
      )
      const owner: OwnerReference = { apiVersion: "v1", kind: "Pod", name: podName, uid: pod.metadata.uid ?? "" }
      const retry = yield* Schedule.driver(retrySchedule)
      let lastHolder: string | undefined
      let judgedAgain = false
      const backOff = (holder: string | undefined, lastError?: K8sError) =>
        retry.next(undefined).pipe(
          Effect.catchAll(() => new LockUnavailableError({ lock: lockName, namespace, holder, lastError }))
        )

      while (true) {
        const outcome = yield* attempt(watch, owner)
        if (outcome._tag === "Acquired") {
          yield* SubscriptionRef.set(uncertainCreate, Option.none())
          yield* Effect.logInfo(outcome.reentered ? "acquired: the lock was already ours" : "acquired")
          return { held: outcome.lock, term: termOf(outcome.lock.metadata.resourceVersion, 0), startedAt: 0 }
        }
        // The lock vanished between our create and get: judge again at once, but only once in a row.
        if (outcome._tag === "Again" && !judgedAgain) {
          judgedAgain = true
          yield* Effect.logDebug("lock changed under us; trying again at once")
          continue
        }
        judgedAgain = false
        if (outcome._tag === "Failed") {
          if (!isTransient(outcome.error)) return yield* outcome.error
          yield* Effect.logWarning(`lock attempt failed, retrying: ${outcome.error.message}`)
          yield* backOff(lastHolder, outcome.error)
        } else if (outcome._tag === "Again") {
          yield* backOff(lastHolder)
        } else {
          const holder = outcome.holder?.name ?? "an owner that is not a Pod"
          if (holder !== lastHolder) {
            yield* Effect.logInfo(`waiting for ${holder}`)
            lastHolder = holder
            yield* retry.reset
          }
          const left = yield* Effect.raceFirst(
            Effect.map(
              holderLeaves(watch, outcome.holder, outcome.holderPodGone),
              (lock) => ({ lockGone: Option.isNone(lock) })
            ),
            Effect.as(backOff(holder), { lockGone: false })
          )
          if (
            left.lockGone && outcome.holder !== undefined && !outcome.holderPodGone &&
            (yield* holderStillRuns(outcome.holder))
          ) {
            yield* Effect.logInfo(
              `the lock was deleted while ${holder} runs; giving it ${Duration.format(holderGrace)} to stop`
            )
            yield* Effect.sleep(holderGrace)
          }
        }
      }
    }).pipe(
      Effect.flatMap((acquired) => Effect.map(monotonicMillis, (startedAt) => ({ ...acquired, startedAt }))),
      Effect.withSpan("leaderForLife.acquire", { attributes })
    )

    /** Leader for life is never taken away by the protocol: only the lock going or changing owner ends it. */
    const watchForLoss: Lock<T>["watchForLoss"] = (held) =>
      lockChanges.pipe(
        Stream.map((current) => Option.fromNullable(lossReason(held, Option.getOrUndefined(current)))),
        Stream.filterMap((why) => why),
        Stream.runHead,
        Effect.map(Option.getOrElse(() => "the watch of the lock ended"))
      )

    /**
     * Deletes the lock only while it is still ours: the owner, not only the object, is checked, with the version we
     * read as the precondition, so a lock whose owner was edited meanwhile (or that was re-created) stays.
     */
    const deleteIfStillOurs = (held: T) =>
      Effect.gen(function*() {
        for (let attempt = 1; attempt <= 3; attempt++) {
          const current = yield* optional(locks.get(lockName, namespace))
          if (Option.isNone(current) || !stillHeld(current.value, held)) {
            return yield* Effect.logInfo("released: the lock was already gone or no longer ours")
          }
          // Mark it released first, so that followers take it at once (see `holderStillRuns`).
          const marked = yield* locks.replace({
            ...current.value,
            metadata: {
              ...current.value.metadata,
              annotations: releasedAnnotations(
                current.value.metadata.annotations,
                new Date(yield* Clock.currentTimeMillis).toISOString()
              )
            }
          }).pipe(Effect.either)
          if (marked._tag === "Left" && marked.left.reason === "Conflict") continue
          // A Role without `update` (as shipped before 0.2): delete it unmarked; followers then wait `holderGrace`.
          if (marked._tag === "Left" && marked.left.reason !== "Forbidden") return yield* marked.left
          if (marked._tag === "Left") {
            yield* Effect.logWarning(`marking the lock released failed: ${marked.left.message}`)
          }
          const version = marked._tag === "Right" ? marked.right.metadata : current.value.metadata
          const deleted = yield* locks.delete(lockName, namespace, {
            preconditions: { uid: version.uid, resourceVersion: version.resourceVersion }
          }).pipe(Effect.either)
          if (deleted._tag === "Right" || deleted.left.reason === "NotFound") return yield* Effect.logInfo("released")
          if (deleted.left.reason !== "Conflict") return yield* deleted.left
        }
        yield* Effect.logWarning("release gave up after 3 conflicts; the lock goes with this Pod")
      })

    const release: Lock<T>["release"] = (lock) =>
      deleteLockOnRelease
        // A finalizer is uninterruptible: only an interruptible request can be cut by the timeout.
        ? Effect.interruptible(deleteIfStillOurs(lock)).pipe(
          Effect.timeout(releaseTimeout),
          Effect.catchAllCause((cause) =>
            Effect.logWarning(`releasing the lock failed; it goes with this Pod: ${Cause.squash(cause)}`)
          ),
          Effect.withSpan("leaderForLife.release", { attributes })
        )
        : Effect.logInfo("leaving the lock in place (deleteLockOnRelease: false); it goes with this Pod")

    /**
     * After a create of uncertain outcome, and until a leadership of ours acquires: a lock owned by our Pod while
     * this service neither acquires nor leads is that create, committed late. Delete it, or nobody would lead until
     * our Pod goes.
     */
    const removeLateCreates: NonNullable<Lock<T>["background"]> = (whenIdle) =>
      uncertainCreate.changes.pipe(
        Stream.flatMap(
          (uncertain) =>
            Option.match(uncertain, {
              onNone: () => Stream.empty,
              onSome: (ownerUid) =>
                lockChanges.pipe(
                  Stream.filterMap(Option.filter((lock) => podOwner(lock)?.uid === ownerUid)),
                  Stream.mapEffect((lock) =>
                    whenIdle(
                      locks.delete(lockName, namespace, { preconditions: { uid: lock.metadata.uid } }).pipe(
                        Effect.zipRight(
                          Effect.logWarning("deleted a lock of ours created after its request was aborted")
                        ),
                        Effect.zipRight(SubscriptionRef.set(uncertainCreate, Option.none())),
                        // NotFound or Conflict: it went or changed meanwhile; anything else: the next change retries.
                        Effect.catchAll((error) =>
                          Effect.logDebug(`deleting a late-created lock failed: ${error.message}`)
                        )
                      )
                    )
                  )
                )
            }),
          { switch: true }
        ),
        Stream.runDrain,
        Effect.catchAllCause((cause) => Effect.logError("watching for late creates of the lock failed", cause))
      )

    const leaderChanges = lockChanges.pipe(
      Stream.map(Option.flatMap((lock) => Option.fromNullable(podOwner(lock)?.name))),
      Stream.changesWith(Option.getEquivalence((a, b) => a === b))
    )

    return yield* makeElection<T>({
      name: lockName,
      namespace,
      identity: podName,
      leaseDuration: Option.none(),
      acquire,
      release,
      watchForLoss,
      leaderChanges,
      background: removeLateCreates
    })
  })
