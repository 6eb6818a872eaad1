import { type Cause, Duration, Effect, Option, Pull, Queue, Schedule, Stream } from "effect"
import { isPermanent, type K8sError } from "../K8sError.js"
import type { KubernetesObject, ResourceService } from "../resources.js"
import { jittered, monotonicMillis } from "./time.js"

/** Reconnects a lost watch after 500 ms, doubling up to 30 s, jittered (client-go's reflector starts at 800 ms). */
export const defaultReconnectSchedule: Schedule.Schedule<unknown, unknown> = jittered(
  Schedule.min([Schedule.exponential("500 millis", 2), Schedule.spaced("30 seconds")])
)

/**
 * A connection counts as healthy, and resets the backoff, only once it has stayed up this long. A watch that the
 * server refuses right after it connects (a 429 from API Priority and Fairness, a 5xx) must not reset the backoff
 * with the GET that opened it, or it would be reconnected every 100 ms forever.
 */
export const healthyConnection: Duration.Duration = Duration.seconds(10)

/**
 * What one read or watch event showed of an object: the object (`None` while it does not exist) and the
 * resourceVersion it was seen at: the object's own, or for a deletion seen on the watch, the deletion's. A GET that
 * answered NotFound has no version.
 *
 * @internal
 */
export interface Versioned<T> {
  readonly object: Option.Option<T>
  readonly resourceVersion: string | undefined
}

/**
 * resourceVersions are opaque, but etcd's are integers: where both are, negative when `a` is older than `b`, zero when
 * they are the same, positive when newer; `undefined` when they cannot be ordered.
 */
export const versionOrder = (a: string | undefined, b: string | undefined): number | undefined =>
  a !== undefined && b !== undefined && /^\d+$/.test(a) && /^\d+$/.test(b)
    ? Number(BigInt(a) - BigInt(b) > 0n) - Number(BigInt(a) - BigInt(b) < 0n)
    : undefined

/**
 * The current state of one object, then every change of it: `None` while it does not exist. A lost watch is
 * logged and reconnected with backoff, and each (re)connection starts with a fresh GET, so no change is missed
 * across a reconnect. The backoff is reset only by a connection that stayed up for {@link healthyConnection}; a
 * watch the server ends normally after that is reopened at once. It fails only with an error that reconnecting
 * cannot fix (Forbidden, Unauthorized, Invalid, Decode). Consecutive repeats of one state are dropped.
 *
 * @internal
 */
export const observe = <T extends KubernetesObject>(
  service: ResourceService<T>,
  name: string,
  namespace: string,
  reconnect: Schedule.Schedule<unknown, unknown> = defaultReconnectSchedule
): Stream.Stream<Option.Option<T>, K8sError> =>
  observeVersioned(service, name, namespace, reconnect).pipe(Stream.map((seen) => seen.object))

/**
 * Drops consecutive repeats of one state (a reconnection's GET of an unchanged object), for a consumer that learns
 * of the object from this watch alone. Not for one that also learns of it by its own writes (the Lease observer, a
 * shared watch): a reconnection's GET may then be the only news that a state it wrote is gone.
 */
const withoutRepeats = <T extends KubernetesObject>(onValue: (value: Versioned<T>) => Effect.Effect<void>) => {
  let last: Versioned<T> | undefined
  return (value: Versioned<T>): Effect.Effect<void> => {
    const repeated = last !== undefined &&
      (Option.isNone(last.object)
        ? Option.isNone(value.object)
        : Option.isSome(value.object) && last.resourceVersion === value.resourceVersion)
    last = value
    return repeated ? Effect.void : onValue(value)
  }
}

/**
 * {@link observe}, with the resourceVersion each state was seen at.
 *
 * @internal
 */
export const observeVersioned = <T extends KubernetesObject>(
  service: ResourceService<T>,
  name: string,
  namespace: string,
  reconnect: Schedule.Schedule<unknown, unknown> = defaultReconnectSchedule
): Stream.Stream<Versioned<T>, K8sError> =>
  Stream.unwrap(Effect.gen(function*() {
    const queue = yield* Effect.acquireRelease(Queue.bounded<Versioned<T>, K8sError | Cause.Done>(16), Queue.shutdown)
    // A defect (or an interruption) inside a service ends the stream with it: a consumer must never wait on a watch
    // that died.
    yield* Effect.forkScoped(
      observeInto(
        service,
        name,
        namespace,
        reconnect,
        withoutRepeats((value) => Effect.asVoid(Queue.offer(queue, value)))
      ).pipe(
        Effect.matchCauseEffect({
          onFailure: (cause) => Queue.failCause(queue, cause),
          onSuccess: () => Queue.end(queue)
        })
      )
    )
    return Stream.fromQueue(queue)
  }))

/**
 * The loop behind {@link observe}, handing each state to `onValue` as it arrives (no stream in between: a follower
 * handles every renew of its leader this way). Every (re)connection hands on its GET's state, even when unchanged:
 * the consumer may have learnt of a newer state since by its own writes, and only that GET can tell it the state is
 * gone. Fails only with an error that reconnecting cannot fix; ends when a finite `reconnect` schedule is used up.
 *
 * @internal
 */
export const observeInto = <T extends KubernetesObject>(
  service: ResourceService<T>,
  name: string,
  namespace: string,
  reconnect: Schedule.Schedule<unknown, unknown>,
  onValue: (value: Versioned<T>) => Effect.Effect<void>
): Effect.Effect<void, K8sError> => {
  const connectOnce: Effect.Effect<void, K8sError> = service.get(name, namespace).pipe(
    Effect.map(Option.some),
    Effect.catchIf((error) => error.reason === "NotFound", () => Effect.succeedNone),
    Effect.flatMap((current) => {
      const resourceVersion = Option.getOrUndefined(current)?.metadata.resourceVersion
      return Effect.andThen(
        onValue({ object: current, resourceVersion }),
        service.watch(name, namespace, resourceVersion !== undefined ? { resourceVersion } : undefined).pipe(
          Stream.runForEach((event) =>
            onValue({
              object: event.type === "DELETED" ? Option.none() : Option.some(event.object),
              resourceVersion: event.object.metadata.resourceVersion
            })
          )
        )
      )
    })
  )
  return Effect.gen(function*() {
    // A step of the schedule sleeps its delay; a new one starts the backoff over.
    let backoff = yield* Schedule.toStepWithSleep(reconnect)
    while (true) {
      const connectedAt = yield* monotonicMillis
      const ended = yield* Effect.result(connectOnce)
      if (ended._tag === "Failure" && isPermanent(ended.failure)) return yield* ended.failure
      const healthy = (yield* monotonicMillis) - connectedAt >= Duration.toMillis(healthyConnection)
      if (healthy) backoff = yield* Schedule.toStepWithSleep(reconnect)
      if (ended._tag === "Failure") {
        yield* Effect.logWarning(`watch of ${name} failed, reconnecting with backoff: ${ended.failure.message}`)
      } else {
        yield* Effect.logDebug(`watch of ${name} ended by the server, reconnecting`)
        if (healthy) continue
      }
      // A finite reconnect schedule that is used up ends the loop (its step fails with `Cause.Done`).
      const more = yield* backoff(undefined).pipe(Effect.as(true), Pull.catchDone(() => Effect.succeed(false)))
      if (!more) return
    }
  })
}
