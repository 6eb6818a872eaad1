/**
 * The HTTP transport under both editions, with no Effect in it: Node's `http`/`https` over one kept-alive agent (through
 * the cluster's `proxy-url` where there is one), the kubeconfig's credentials applied to each request and again as
 * they rotate, a response's body or its lines. The editions wrap it in their Effect's request and stream.
 */
import * as http from "node:http"
import * as https from "node:https"
import { type ConnectionSource, tlsKeys } from "./kubeConfig.js"

/** @internal */
export interface TransportRequest {
  readonly method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE"
  readonly path: string
  /** Default `application/json`; a PATCH names its kind, e.g. `application/merge-patch+json`. */
  readonly contentType?: string | undefined
  readonly query?: Record<string, string> | undefined
  readonly body?: unknown
}

interface Connection {
  readonly url: URL
  readonly options: https.RequestOptions
}

// The credentials (a token file, an exec plugin, client certificate files) may rotate, so they are applied again
// after this long, and at once after a 401. Connections are kept alive in one agent until the TLS material changes.
const defaultCredentialsTtlMillis = 10_000

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

/**
 * Opens requests to the API server of `source`.
 *
 * @internal
 */
export const makeConnection = (
  source: ConnectionSource,
  options: { readonly credentialsTtlMillis?: number | undefined } = {}
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
    request: TransportRequest,
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
  const open = (request: TransportRequest, signal: AbortSignal, watch: boolean): Promise<http.IncomingMessage> =>
    openOnce(request, signal, watch, false).then((response) => {
      if (response.statusCode !== 401) return response
      response.resume()
      return openOnce(request, signal, watch, true)
    })

  /** Closes the kept-alive connections (open requests and watches end). */
  const close = () => {
    agent?.agent.destroy()
    for (const old of retired) old.destroy()
  }

  return { open, close } as const
}

/** The whole body of a response. @internal */
export const readAll = (response: http.IncomingMessage): Promise<string> =>
  new Promise((resolve, reject) => {
    const chunks: Array<Buffer> = []
    response.on("data", (chunk: Buffer) => chunks.push(chunk))
    response.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")))
    response.on("error", reject)
    response.on("aborted", () => reject(new Error("response aborted")))
  })

/** A body parsed as JSON, or the text itself when it is not JSON. @internal */
export const parseBody = (text: string): unknown => {
  try {
    return JSON.parse(text)
  } catch {
    return text
  }
}

/**
 * The lines of a watch's response, each parsed as JSON (`parseBody`), then its end or its error.
 *
 * @internal
 */
export const readLines = (
  response: http.IncomingMessage,
  handle: {
    readonly line: (value: unknown) => void
    readonly end: () => void
    readonly error: (cause: unknown) => void
  }
) => {
  let buffered = ""
  response.setEncoding("utf8")
  response.on("data", (chunk: string) => {
    buffered += chunk
    let newline = buffered.indexOf("\n")
    while (newline >= 0) {
      const line = buffered.slice(0, newline).trim()
      buffered = buffered.slice(newline + 1)
      if (line.length > 0) handle.line(parseBody(line))
      newline = buffered.indexOf("\n")
    }
  })
  response.on("end", handle.end)
  response.on("error", handle.error)
}
