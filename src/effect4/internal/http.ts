import { type Array as Arr, Cause, Duration, Effect, Queue, Stream } from "effect"
import type * as http from "node:http"
import type { ConnectionSource } from "../../internal/kubeConfig.js"
import { makeConnection, parseBody, readAll, readLines, type TransportRequest } from "../../internal/transport.js"
import { fromResponse, K8sError, type K8sRequestInfo } from "../K8sError.js"

/** @internal */
export interface HttpRequest extends TransportRequest {
  readonly info: K8sRequestInfo
}

/** A watch's response is paused while this many of its lines wait for the consumer. */
const watchHighWater = 64

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
      Effect.timeoutOrElse({
        duration: requestTimeout,
        orElse: () =>
          Effect.fail(
            new K8sError({
              ...request.info,
              reason: "Timeout",
              detail: `no answer within ${Duration.format(requestTimeout)}; the request was aborted`
            })
          )
      })
    )

  /**
   * The lines of a watch, one parsed JSON value each. Every renew of a leader reaches each follower this way, so the
   * response feeds a queue directly, which the stream pulls from (`Stream.callback` would hide the pulls); the response
   * is paused while the consumer lags `watchHighWater` lines behind, and resumed by the pull that catches up.
   */
  const watch = (request: HttpRequest): Stream.Stream<unknown, K8sError> =>
    Stream.unwrap(Effect.gen(function*() {
      // Lines, then the end of the queue: a failure, or done for the end of the response. Both are taken only once
      // the lines before them are.
      const queue = yield* Effect.acquireRelease(Queue.unbounded<unknown, K8sError | Cause.Done>(), Queue.shutdown)
      const controller = new AbortController()
      yield* Effect.addFinalizer(() => Effect.sync(() => controller.abort()))
      let response: http.IncomingMessage | undefined
      let paused = false
      const offer = (line: unknown) => {
        Queue.offerUnsafe(queue, line)
        if (response !== undefined && !paused && Queue.sizeUnsafe(queue) >= watchHighWater) {
          paused = true
          response.pause()
        }
      }
      const end = (error: K8sError | undefined) => {
        if (error === undefined) Queue.endUnsafe(queue)
        else Queue.failCauseUnsafe(queue, Cause.fail(error))
      }
      open(request, controller.signal, true).then((opened) => {
        const status = opened.statusCode ?? 0
        if (status < 200 || status >= 300) {
          return readAll(opened).then((text) => end(fromResponse(request.info, status, parseBody(text))))
        }
        response = opened
        readLines(opened, {
          line: offer,
          end: () => end(undefined),
          error: (cause) => end(transportError(request.info)(cause))
        })
      }).catch((cause) => end(transportError(request.info)(cause)))
      // One pull takes every line waiting (at least one), up to the end, which the next pull reports.
      const pull = Effect.map(Queue.takeBetween(queue, 1, watchHighWater), (lines) => {
        if (paused && Queue.sizeUnsafe(queue) === 0) {
          paused = false
          response?.resume()
        }
        // Never empty: at least one line is waited for, and an ended queue fails instead.
        return lines as unknown as Arr.NonEmptyReadonlyArray<unknown>
      })
      return Stream.fromPull(Effect.succeed(pull))
    }))

  return { request, watch, close } as const
}
