import { Effect, Option, Schedule, Stream } from "effect"
import { isPermanent, type K8sError } from "../K8sError.js"
import type { KubernetesObject, ResourceService } from "../resources.js"
import { jittered } from "./time.js"

/** Reconnects a lost watch after 100 ms, doubling up to 30 s, jittered; reset by every successful reconnect. */
export const defaultReconnectSchedule: Schedule.Schedule<unknown, unknown> = Schedule.exponential("100 millis", 2).pipe(
  Schedule.union(Schedule.spaced("30 seconds")),
  (schedule) => jittered(schedule)
)

/**
 * The current state of one object, then every change of it: `None` while it does not exist. A lost watch is
 * logged and reconnected with backoff, and each (re)connection starts with a fresh GET, so no change is missed
 * across a reconnect. It fails only with an error that reconnecting cannot fix (Forbidden, Unauthorized, Invalid,
 * Decode). Consecutive repeats of the same resourceVersion are dropped.
 *
 * @internal
 */
export const observe = <T extends KubernetesObject>(
  service: ResourceService<T>,
  name: string,
  namespace: string,
  reconnect: Schedule.Schedule<unknown, unknown> = defaultReconnectSchedule
): Stream.Stream<Option.Option<T>, K8sError> => {
  const connectOnce: Stream.Stream<Option.Option<T>, K8sError | WatchEnded> = Stream.unwrap(
    service.get(name, namespace).pipe(
      Effect.map(Option.some),
      Effect.catchIf((error) => error.reason === "NotFound", () => Effect.succeedNone),
      Effect.map((current) => {
        const resourceVersion = Option.flatMapNullable(current, (object) => object.metadata.resourceVersion)
        const changes = service.watch(
          name,
          namespace,
          Option.isSome(resourceVersion) ? { resourceVersion: resourceVersion.value } : undefined
        ).pipe(Stream.map((event) => event.type === "DELETED" ? Option.none<T>() : Option.some(event.object)))
        return Stream.concat(Stream.make(current), changes).pipe(Stream.concat(Stream.fail(new WatchEnded())))
      })
    )
  )
  return connectOnce.pipe(
    Stream.tapError((error) =>
      error instanceof WatchEnded
        ? Effect.logDebug(`watch of ${name} ended by the server, reconnecting`)
        : isPermanent(error)
        ? Effect.void
        : Effect.logWarning(`watch of ${name} failed, reconnecting with backoff: ${error.message}`)
    ),
    Stream.retry(Schedule.intersect(reconnect, Schedule.recurWhile((error) => !isPermanentError(error)))),
    Stream.catchAll((error) => error instanceof WatchEnded ? Stream.empty : Stream.fail(error)),
    Stream.changesWith((a, b) =>
      Option.isNone(a) ? Option.isNone(b) : Option.isSome(b) &&
        a.value.metadata.resourceVersion === b.value.metadata.resourceVersion
    )
  )
}

class WatchEnded {
  readonly _tag = "WatchEnded"
  readonly message = "the watch ended"
}

const isPermanentError = (error: unknown) => !(error instanceof WatchEnded) && isPermanent(error as K8sError)
