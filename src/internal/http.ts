import { Chunk, Duration, Effect, Option, Queue, Stream } from "effect"
import * as http from "node:http"
import * as https from "node:https"
import { fromResponse, K8sError, type K8sRequestInfo } from "../K8sError.js"
import { type ConnectionSource, tlsKeys } from "./kubeConfig.js"

/** @internal */
export interface HttpRequest {
  readonly method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE"
  readonly path: string
  /** Default `application/json`; a PATCH names its kind, e.g. `application/merge-patch+json`. */
  readonly contentType?: string | undefined
  readonly query?: Record<string, string> | undefined
  readonly body?: unknown
  readonly info: K8sRequestInfo
}

interface Connection {
  readonly url: URL
  readonly options: https.RequestOptions
}

// The credentials (a token file, an exec plugin, client certificate files) may rotate, so they are applied again
// after this long, and at once after a 401. Connections are kept alive in one agent until the TLS material changes.
const defaultCredentialsTtlMillis = 10_000

/** A watch's response is paused while this many of its lines wait for the consumer. */
const watchHighWater = 64

type WatchItem = { readonly line: unknown } | { readonly end: K8sError | undefined }

type Tls = Awaited<ReturnType<ConnectionSource["credentials"]>>["tls"]

const sameMaterial = (a: unknown, b: unknown): boolean =>
  Buffer.isBuffer(a) && Buffer.isBuffer(b)
    ? a.equals(b)
    : Array.isArray(a) && Array.isArray(b)
    ? a.length === b.length && a.every((item, i) => sameMaterial(item, b[i]))
    : a === b

/** An agent whose TLS material was replaced: its open requests and watches finish, its idle sockets close. */
const retire = (agent: http.Agent) => {
  ;(agent as { keepAlive?: boolean }).keepAlive = false
  for (const sockets of Object.values(agent.freeSockets)) for (const socket of sockets ?? []) socket.destroy()
}

/**
 * A kept-alive agent with this TLS material, through the cluster's `proxy-url` where there is one (loaded only then:
 * an HTTP CONNECT proxy with hpagent, SOCKS with socks-proxy-agent, as client-node does).
 */
const makeAgent = async (isHttps: boolean, proxyUrl: string | undefined, tls: Tls): Promise<http.Agent> => {
  if (proxyUrl === undefined) {
    return isHttps ? new https.Agent({ keepAlive: true, ...tls }) : new http.Agent({ keepAlive: true })
  }
  if (proxyUrl.startsWith("socks")) {
    const { SocksProxyAgent } = await import("socks-proxy-agent")
    return new SocksProxyAgent(proxyUrl, { keepAlive: true, ...tls })
  }
  const { HttpProxyAgent, HttpsProxyAgent } = await import("hpagent")
  return isHttps
    ? new HttpsProxyAgent({ keepAlive: true, proxy: proxyUrl, ...tls })
    : new HttpProxyAgent({ keepAlive: true, proxy: proxyUrl })
}

/** @internal */
export const makeTransport = (
  source: ConnectionSource,
  requestTimeout: Duration.Duration,
  options: { readonly credentialsTtlMillis?: number } = {}
) => {
  const url = new URL(source.server)
  const isHttps = url.protocol === "https:"
  const credentialsTtlMillis = options.credentialsTtlMillis ?? defaultCredentialsTtlMillis
  let agent: { readonly agent: http.Agent; readonly tls: Tls } | undefined
  const retired: Array<http.Agent> = []
  let cached: { readonly at: number; readonly connection: Promise<Connection> } | undefined
  let reapplying: Promise<Connection> | undefined

  const apply = async (refresh: boolean): Promise<Connection> => {
    const { headers, tls } = await source.credentials(refresh)
    // A rotated client certificate, key or CA needs new connections: keep-alive ones carry the old.
    if (agent === undefined || !tlsKeys.every((key) => sameMaterial(agent!.tls[key], tls[key]))) {
      if (agent !== undefined) {
        retire(agent.agent)
        retired.push(agent.agent)
      }
      for (const old of retired.splice(0)) {
        if (Object.keys(old.sockets).length > 0) retired.push(old)
        else old.destroy()
      }
      agent = { agent: await makeAgent(isHttps, source.proxyUrl, tls), tls }
    }
    return { url, options: { agent: agent.agent, headers } }
  }

  /**
   * The connection settings; `refresh` applies the credentials again now (after a 401). Past the TTL they are applied
   * again in the background, and this request goes out with the current ones: reading token or certificate files (or
   * running an exec plugin) must not delay the write that takes over a lock, and should the old credentials no longer
   * be accepted, the 401 applies them again at once. A failed background attempt leaves the current ones in place and
   * is tried again by the next request; the one after a 401 reports its error.
   */
  const connection = (refresh = false): Promise<Connection> => {
    const now = Date.now()
    if (cached === undefined || refresh) {
      const connection = apply(refresh)
      cached = { at: now, connection }
      connection.catch(() => {
        if (cached?.connection === connection) cached = undefined
      })
      return connection
    }
    if (now - cached.at > credentialsTtlMillis && reapplying === undefined) {
      const current = cached.connection
      const next = apply(false)
      reapplying = next
      next.then(
        (connection) => {
          if (cached?.connection === current) cached = { at: Date.now(), connection: Promise.resolve(connection) }
          reapplying = undefined
        },
        () => {
          reapplying = undefined
        }
      )
    }
    return cached.connection
  }

  const openOnce = (
    request: HttpRequest,
    signal: AbortSignal,
    watch: boolean,
    refresh: boolean
  ): Promise<http.IncomingMessage> =>
    connection(refresh).then((conn) =>
      new Promise<http.IncomingMessage>((resolve, reject) => {
        const target = new URL(request.path, conn.url)
        for (const [key, value] of Object.entries(request.query ?? {})) target.searchParams.set(key, value)
        const body = request.body === undefined ? undefined : JSON.stringify(request.body)
        const req = (isHttps ? https : http).request(target, {
          ...conn.options,
          method: request.method,
          signal,
          headers: {
            ...conn.options.headers,
            Accept: "application/json",
            ...(body !== undefined
              ? {
                "Content-Type": request.contentType ?? "application/json",
                "Content-Length": String(Buffer.byteLength(body))
              }
              : {}),
            ...(watch ? { Connection: "keep-alive" } : {})
          }
        }, resolve)
        req.on("error", reject)
        req.end(body)
      })
    )

  /**
   * Opens a request; on a 401, applies the credentials again at once and tries once more (client-go does the same
   * for exec plugins): a rotated token or certificate is then used without waiting for the TTL. A second 401 stands.
   */
  const open = (request: HttpRequest, signal: AbortSignal, watch: boolean): Promise<http.IncomingMessage> =>
    openOnce(request, signal, watch, false).then((response) => {
      if (response.statusCode !== 401) return response
      response.resume()
      return openOnce(request, signal, watch, true)
    })

  const transportError = (info: K8sRequestInfo) => (cause: unknown) =>
    cause instanceof K8sError ? cause : new K8sError({
      ...info,
      reason: "Transport",
      detail: cause instanceof Error ? cause.message : String(cause),
      cause
    })

  const readAll = (response: http.IncomingMessage): Promise<string> =>
    new Promise((resolve, reject) => {
      const chunks: Array<Buffer> = []
      response.on("data", (chunk: Buffer) => chunks.push(chunk))
      response.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")))
      response.on("error", reject)
      response.on("aborted", () => reject(new Error("response aborted")))
    })

  const parse = (text: string): unknown => {
    try {
      return JSON.parse(text)
    } catch {
      return text
    }
  }

  // Interruptible even when the caller is not (a release in a finalizer): otherwise neither the timeout below nor
  // the caller could abort a request the server never answers, and the caller would wait for it forever.
  const request = (request: HttpRequest): Effect.Effect<unknown, K8sError> =>
    Effect.interruptible(Effect.tryPromise({
      try: async (signal) => {
        const response = await open(request, signal, false)
        const text = await readAll(response)
        const status = response.statusCode ?? 0
        if (status < 200 || status >= 300) throw fromResponse(request.info, status, parse(text))
        return parse(text)
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
          return readAll(opened).then((text) => end(fromResponse(request.info, status, parse(text))))
        }
        response = opened
        let buffered = ""
        opened.setEncoding("utf8")
        opened.on("data", (chunk: string) => {
          buffered += chunk
          let newline = buffered.indexOf("\n")
          while (newline >= 0) {
            const line = buffered.slice(0, newline).trim()
            buffered = buffered.slice(newline + 1)
            if (line.length > 0) offer({ line: parse(line) })
            newline = buffered.indexOf("\n")
          }
        })
        opened.on("end", () => end(undefined))
        opened.on("error", (cause) => end(transportError(request.info)(cause)))
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

  const close = () => {
    agent?.agent.destroy()
    for (const old of retired) old.destroy()
  }

  return { request, watch, close } as const
}
