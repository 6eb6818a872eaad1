import { Chunk, Duration, Effect, Option, Queue, Stream } from "effect"
import type * as http from "node:http"
import { fromResponse, K8sError, type K8sRequestInfo } from "../K8sError.js"
import type { ConnectionSource } from "./kubeConfig.js"
import { makeConnection, parseBody, readAll, readLines, type TransportRequest } from "./transport.js"

/** @internal */
export interface HttpRequest extends TransportRequest {
  readonly info: K8sRequestInfo
}

/** A watch's response is paused while this many of its lines wait for the consumer. */
const watchHighWater = 64

type WatchItem = { readonly line: unknown } | { readonly end: K8sError | undefined }

/** @internal */
export const makeTransport = (
  source: ConnectionSource,
  requestTimeout: Duration.Duration,
  options: { readonly credentialsTtlMillis?: number } = {}
) => {
  const { open, close } = makeConnection(source, options)

  const transportError = (info: K8sRequestInfo) => (cause: unknown) =>
    cause instanceof K8sError ? cause : new K8sError({
      ...info,
      reason: "Transport",
      detail: cause instanceof Error ? cause.message : String(cause),
      cause
    })

  // Interruptible even when the caller is not (a release in a finalizer): otherwise neither the timeout below nor
  // the caller could abort a request the server never answers, and the caller would wait for it forever.
  const request = (request: HttpRequest): Effect.Effect<unknown, K8sError> =>
    Effect.interruptible(Effect.tryPromise({
      try: async (signal) => {
        const response = await open(request, signal, false)
        const text = await readAll(response)
        const status = response.statusCode ?? 0
        if (status < 200 || status >= 300) throw fromResponse(request.info, status, parseBody(text))
        return parseBody(text)
      },
      catch: transportError(request.info)
    })).pipe(
      Effect.timeoutFail({
        duration: requestTimeout,
        onTimeout: () =>
          new K8sError({
            ...request.info,
            reason: "Timeout",
            detail: `no answer within ${Duration.format(requestTimeout)}; the request was aborted`
          })
      })
    )

  /**
   * The lines of a watch, one parsed JSON value each. Every renew of a leader reaches each follower this way, so the
   * response feeds a queue directly (`Stream.async` would start a fiber per line); the response is paused while the
   * consumer lags `watchHighWater` lines behind, and resumed once it has caught up.
   */
  const watch = (request: HttpRequest): Stream.Stream<unknown, K8sError> =>
    Stream.unwrapScoped(Effect.gen(function*() {
      // Lines, then at most one end: a failure, or `undefined` for the end of the response.
      const queue = yield* Effect.acquireRelease(Queue.unbounded<WatchItem>(), Queue.shutdown)
      const controller = new AbortController()
      yield* Effect.addFinalizer(() => Effect.sync(() => controller.abort()))
      let response: http.IncomingMessage | undefined
      let paused = false
      const offer = (item: WatchItem) => {
        queue.unsafeOffer(item)
        if (response !== undefined && !paused && Option.getOrElse(queue.unsafeSize(), () => 0) >= watchHighWater) {
          paused = true
          response.pause()
        }
      }
      const end = (error: K8sError | undefined) => offer({ end: error })
      open(request, controller.signal, true).then((opened) => {
        const status = opened.statusCode ?? 0
        if (status < 200 || status >= 300) {
          return readAll(opened).then((text) => end(fromResponse(request.info, status, parseBody(text))))
        }
        response = opened
        readLines(opened, {
          line: (line) => offer({ line }),
          end: () => end(undefined),
          error: (cause) => end(transportError(request.info)(cause))
        })
      }).catch((cause) => end(transportError(request.info)(cause)))
      // One pull takes every line waiting, up to the end, which the next pull reports.
      let ended: { readonly end: K8sError | undefined } | undefined
      const pull: Effect.Effect<Chunk.Chunk<unknown>, Option.Option<K8sError>> = Effect.suspend(() =>
        ended !== undefined
          ? Effect.fail(Option.fromNullable(ended.end))
          : Effect.map(Queue.takeBetween(queue, 1, watchHighWater), (items) => {
            const lines: Array<unknown> = []
            for (const item of items) {
              if ("end" in item) {
                ended = item
                break
              }
              lines.push(item.line)
            }
            if (paused && Option.getOrElse(queue.unsafeSize(), () => 0) === 0) {
              paused = false
              response?.resume()
            }
            return Chunk.unsafeFromArray(lines)
          })
      )
      return Stream.repeatEffectChunkOption(pull)
    }))

  return { request, watch, close } as const
}
