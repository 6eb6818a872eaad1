/**
 * One watch of a lock per service, shared by everything of the service that follows it: the election's waits, its
 * watch for loss, the janitor and every `leaderChanges` subscriber.
 */
import {
  Cause,
  Deferred,
  Effect,
  Exit,
  Filter,
  Option,
  type Schedule,
  Scope,
  Semaphore,
  Stream,
  SubscriptionRef
} from "effect"
import type { K8sError } from "../K8sError.js"
import type { KubernetesObject, ResourceService } from "../resources.js"
import { defaultReconnectSchedule, observeInto, type Versioned, versionOrder } from "./observe.js"

/**
 * A resource shared by its users. The first `get` starts it in a scope of its own, a child of the scope `share` runs
 * in (the layer's): no user's fiber runs it, and no user's interruption can leave it half-started. It stops when the
 * last user's scope closes. Once it has `ended` (its watch failed for good), new users get a new one.
 *
 * @internal
 */
export const share = <A, E>(
  acquire: Effect.Effect<A, E, Scope.Scope>,
  ended: (resource: A) => Effect.Effect<unknown, unknown>
): Effect.Effect<Effect.Effect<A, E, Scope.Scope>, never, Scope.Scope> =>
  Effect.gen(function*() {
    const parent = yield* Effect.scope
    const lock = yield* Semaphore.make(1)
    interface Entry {
      readonly scope: Scope.Closeable
      readonly resource: Deferred.Deferred<A, E>
      users: number
    }
    let current: Entry | undefined
    // `retire` and `leave` change the state without a yield, so they need not take `lock` (which only keeps two
    // first users from starting two resources): they run in finalizers, possibly while `lock` is held.
    const retire = (entry: Entry) =>
      Effect.sync(() => {
        if (current === entry) current = undefined
      })

    const start = Effect.gen(function*() {
      const entry: Entry = {
        scope: yield* Scope.fork(parent, "sequential"),
        resource: yield* Deferred.make<A, E>(),
        users: 0
      }
      // Started from a getter's uninterruptible region: the fibers that run it must be interruptible themselves, or
      // closing the scope would wait on them forever.
      yield* acquire.pipe(
        Scope.provide(entry.scope),
        Effect.tap((resource) =>
          Effect.forkIn(Effect.andThen(Effect.exit(ended(resource)), retire(entry)), entry.scope)
        ),
        Effect.onError(() => retire(entry)),
        Effect.exit,
        Effect.flatMap((exit) => Deferred.done(entry.resource, exit)),
        Effect.interruptible,
        Effect.forkIn(entry.scope)
      )
      return entry
    })

    const leave = (entry: Entry) =>
      Effect.suspend(() => {
        entry.users -= 1
        if (entry.users > 0) return Effect.void
        if (current === entry) current = undefined
        return Scope.close(entry.scope, Exit.void)
      })

    return Effect.uninterruptibleMask((restore) =>
      Effect.gen(function*() {
        const entry = yield* lock.withPermits(1)(Effect.gen(function*() {
          const entry = current ?? (yield* start)
          current = entry
          entry.users += 1
          return entry
        }))
        yield* Effect.addFinalizer(() => leave(entry))
        return yield* restore(Deferred.await(entry.resource))
      })
    )
  })

/**
 * What one service knows of its lock object: fed by one watch, and by the service's own reads and writes.
 *
 * @internal
 */
export interface ObjectWatch<T> {
  /** The current state (`None` while the object does not exist) once known, then every change. */
  readonly changes: Stream.Stream<Option.Option<T>, K8sError>
  /**
   * Records what this service read or wrote, so that its waits start from it rather than from an older event still
   * on its way. A state older than the one known (by resourceVersion) is ignored.
   */
  readonly see: (seen: Versioned<T>) => Effect.Effect<void>
  /** Fails (or dies) when the watch ended for good; never completes otherwise. */
  readonly failed: Effect.Effect<never, K8sError>
}

/**
 * One watch of the object `name` (see `observe`). The watch runs in the scope this is built in.
 *
 * @internal
 */
export const watchObject = <T extends KubernetesObject>(
  service: ResourceService<T>,
  name: string,
  namespace: string,
  reconnect?: Schedule.Schedule<unknown, unknown>
): Effect.Effect<ObjectWatch<T>, never, Scope.Scope> =>
  Effect.gen(function*() {
    /** What is known, and when it was learnt: a count that orders our own requests and the watch's reads. */
    interface Known {
      readonly seen: Versioned<T>
      readonly learnt: number
    }
    let clock = 0
    let lastReadIssued = 0
    const state = yield* SubscriptionRef.make(Option.none<Known>())
    const failed = yield* Deferred.make<never, K8sError>()
    const record = (seen: Versioned<T>, learnt: number) =>
      SubscriptionRef.update(state, (current) =>
        Option.isSome(current) && (versionOrder(seen.resourceVersion, current.value.seen.resourceVersion) ?? 1) <= 0
          ? current
          : Option.some({ seen, learnt }))
    const see = (seen: Versioned<T>) =>
      Effect.suspend(() =>
        record(seen, ++clock)
      )
    // The reads of the watch, stamped when they are issued.
    const stamped: ResourceService<T> = {
      ...service,
      get: (name, namespace) =>
        Effect.suspend(() => {
          lastReadIssued = ++clock
          return service.get(name, namespace)
        })
    }
    const gone: Versioned<T> = { object: Option.none(), resourceVersion: undefined }
    const fresh = Effect.suspend(() => {
      const issued = ++clock
      return service.get(name, namespace).pipe(
        Effect.map((object): Versioned<T> => ({
          object: Option.some(object),
          resourceVersion: object.metadata.resourceVersion
        })),
        Effect.catchIf((error) => error.reason === "NotFound", () => Effect.succeed(gone)),
        Effect.map((seen) => ({ seen, issued }))
      )
    })
    /**
     * A read that found nothing has no resourceVersion to order it by. Issued before we learnt of the object (our own
     * create, an event), it may predate it: read again, now. Should that fail, believe the absence: a leader then
     * stops, which is the safe mistake.
     */
    const fromWatch = (seen: Versioned<T>) =>
      Effect.gen(function*() {
        if (seen.resourceVersion !== undefined || Option.isSome(seen.object)) return yield* record(seen, ++clock)
        const current = yield* SubscriptionRef.get(state)
        if (
          Option.isNone(current) || Option.isNone(current.value.seen.object) || current.value.learnt < lastReadIssued
        ) {
          return yield* record(seen, lastReadIssued)
        }
        const again = yield* Effect.result(fresh)
        yield* again._tag === "Success" ? record(again.success.seen, again.success.issued) : record(gone, ++clock)
      })
    yield* observeInto(stamped, name, namespace, reconnect ?? defaultReconnectSchedule, fromWatch).pipe(
      Effect.onExit((exit) => exit._tag === "Failure" ? Deferred.failCause(failed, exit.cause) : Effect.void),
      // The stream ends only on a failure; should it end otherwise, waiting on it would hang: end it as a defect.
      Effect.andThen(Deferred.failCause(failed, Cause.die(new Error(`the watch of ${name} ended`)))),
      Effect.forkScoped
    )
    const changes = SubscriptionRef.changes(state).pipe(
      Stream.filterMap(Filter.fromPredicateOption(Option.map(({ seen }: Known) => seen.object))),
      Stream.changesWith((a, b) =>
        Option.isNone(a)
          ? Option.isNone(b)
          : Option.isSome(b) && a.value.metadata.resourceVersion === b.value.metadata.resourceVersion
      ),
      Stream.interruptWhen(Deferred.await(failed))
    )
    return { changes, see, failed: Deferred.await(failed) }
  })

/**
 * The shared watch of one lock: `share(watchObject(...))`, as the subscribers use it.
 *
 * @internal
 */
export const sharedObjectWatch = <T extends KubernetesObject>(
  service: ResourceService<T>,
  name: string,
  namespace: string
) => share(watchObject(service, name, namespace), (watch) => watch.failed)
