/**
 * Raw requests to an API server, for the tooling (the control plane's own checks, the bench's metrics and floor):
 * one JSON request over a given agent, bounded, with a bearer token or other headers.
 */
import * as http from "node:http"
import * as https from "node:https"

export interface Response {
  readonly status: number
  readonly body: string
}

export const request = (
  agent: https.Agent | http.Agent,
  url: string,
  options: {
    readonly method?: string
    readonly token?: string
    readonly headers?: Record<string, string>
    readonly body?: unknown
    readonly timeoutMs?: number
  }
): Promise<Response> =>
  new Promise((resolve, reject) => {
    const headers: Record<string, string> = { accept: "application/json", ...options.headers }
    if (options.token !== undefined) headers["authorization"] = `Bearer ${options.token}`
    const payload = options.body === undefined ? undefined : JSON.stringify(options.body)
    if (payload !== undefined) headers["content-type"] = "application/json"
    const mod = url.startsWith("https:") ? https : http
    const req = mod.request(url, { method: options.method ?? "GET", headers, agent }, (res) => {
      const chunks: Array<Buffer> = []
      res.on("data", (chunk: Buffer) => chunks.push(chunk))
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }))
      res.on("error", reject)
    })
    req.setTimeout(options.timeoutMs ?? 5_000, () => req.destroy(new Error(`timeout: ${url}`)))
    req.on("error", reject)
    req.end(payload)
  })
