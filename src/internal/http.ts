import { Duration, Effect, Stream } from "effect"
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
const credentialsTtlMillis = 10_000

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
export const makeTransport = (source: ConnectionSource, requestTimeout: Duration.Duration) => {
  const url = new URL(source.server)
  const isHttps = url.protocol === "https:"
  let agent: { readonly agent: http.Agent; readonly tls: Tls } | undefined
  const retired: Array<http.Agent> = []
  let cached: { readonly at: number; readonly connection: Promise<Connection> } | undefined

  /** The connection settings; `refresh` applies the credentials again now (after a 401), not only after the TTL. */
  const connection = (refresh = false): Promise<Connection> => {
    const now = Date.now()
    if (cached === undefined || refresh || now - cached.at > credentialsTtlMillis) {
      const connection = (async () => {
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
      })()
      cached = { at: now, connection }
      connection.catch(() => {
        cached = undefined
      })
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

  const watch = (request: HttpRequest): Stream.Stream<unknown, K8sError> =>
    Stream.async<unknown, K8sError>((emit) => {
      const controller = new AbortController()
      let buffered = ""
      open(request, controller.signal, true).then((response) => {
        const status = response.statusCode ?? 0
        if (status < 200 || status >= 300) {
          return readAll(response).then((text) => emit.fail(fromResponse(request.info, status, parse(text))))
        }
        response.setEncoding("utf8")
        response.on("data", (chunk: string) => {
          buffered += chunk
          let newline = buffered.indexOf("\n")
          while (newline >= 0) {
            const line = buffered.slice(0, newline).trim()
            buffered = buffered.slice(newline + 1)
            if (line.length > 0) emit.single(parse(line))
            newline = buffered.indexOf("\n")
          }
        })
        response.on("end", () => emit.end())
        response.on("error", (cause) => emit.fail(transportError(request.info)(cause)))
      }).catch((cause) => emit.fail(transportError(request.info)(cause)))
      return Effect.sync(() => controller.abort())
    })

  const close = () => {
    agent?.agent.destroy()
    for (const old of retired) old.destroy()
  }

  return { request, watch, close } as const
}
