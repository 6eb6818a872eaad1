/** The control plane as the bench sees it: admin requests, `/metrics`, a watch of every Lease, Pods to delete. */
import * as https from "node:https"
import { createInterface } from "node:readline"
import { request } from "../testkit/api.js"
import { monoNow } from "../testkit/candidates.js"
import type { ControlPlane } from "../testkit/controlPlane.js"

export interface LeaseEvent {
  readonly mono: number
  readonly type: string
  readonly holder: string
  readonly renewTime: string
}

export type ApiServer = ReturnType<typeof apiServer>
export type LeaseWatch = ReturnType<ApiServer["watchLeases"]>

/** The bench's own access to the control plane, as its admin: requests, metrics, a watch of the Leases, Pods. */
export const apiServer = (cp: ControlPlane) => {
  const agent = new https.Agent({ keepAlive: true, rejectUnauthorized: false, maxSockets: 8 })

  const api = (method: string, p: string, body?: unknown) =>
    request(agent, `${cp.server}${p}`, { method, token: cp.tokens["admin"]!, body, timeoutMs: 10_000 })

  /** `apiserver_request_total` summed over codes and scopes, keyed "resource verb". */
  const requestCounts = async (): Promise<Map<string, number>> => {
    const res = await api("GET", "/metrics")
    if (res.status !== 200) throw new Error(`/metrics: ${res.status}`)
    const counts = new Map<string, number>()
    for (const line of res.body.split("\n")) {
      if (!line.startsWith("apiserver_request_total{")) continue
      const labels = Object.fromEntries(
        [...line.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1]!, m[2]!])
      )
      const value = Number(line.slice(line.lastIndexOf(" ") + 1))
      const key = `${labels["resource"]}${labels["subresource"] ? "/" + labels["subresource"] : ""} ${labels["verb"]}`
      counts.set(key, (counts.get(key) ?? 0) + value)
    }
    return counts
  }

  /** Open long-running WATCH requests on Leases (the gauge `apiserver_longrunning_requests`). */
  const openLeaseWatches = async (): Promise<number> => {
    const res = await api("GET", "/metrics")
    let open = 0
    for (const line of res.body.split("\n")) {
      if (
        line.startsWith("apiserver_longrunning_requests{") && line.includes("resource=\"leases\"") &&
        line.includes("verb=\"WATCH\"")
      ) open += Number(line.slice(line.lastIndexOf(" ") + 1))
    }
    return open
  }

  /** Watches every Lease in `default` and records each event with the bench's monotonic time of arrival. */
  const watchLeases = () => {
    const events = new Map<string, Array<LeaseEvent>>()
    let stopped = false
    let current: ReturnType<typeof https.request> | undefined
    const connect = () => {
      if (stopped) return
      let scheduled = false
      const again = (ms: number) => {
        if (scheduled || stopped) return
        scheduled = true
        setTimeout(connect, ms)
      }
      const req = https.request(
        `${cp.server}/apis/coordination.k8s.io/v1/namespaces/default/leases?watch=true`,
        { agent: false, rejectUnauthorized: false, headers: { authorization: `Bearer ${cp.tokens["admin"]}` } },
        (res) => {
          res.on("error", () => undefined)
          const lines = createInterface({ input: res })
          lines.on("error", () => undefined)
          lines.on("line", (line) => {
            const mono = monoNow()
            try {
              const event = JSON.parse(line) as {
                type: string
                object: {
                  metadata: { name: string }
                  spec?: { holderIdentity?: string; renewTime?: string }
                }
              }
              const name = event.object.metadata.name
              const list = events.get(name) ?? []
              list.push({
                mono,
                type: event.type,
                holder: event.object.spec?.holderIdentity ?? "",
                renewTime: event.object.spec?.renewTime ?? ""
              })
              events.set(name, list)
            } catch {
              // not an event line
            }
          })
          res.on("close", () => again(100))
        }
      )
      req.on("error", () => again(500))
      req.end()
      current = req
    }
    connect()
    return {
      events,
      /** The arrival time of the last write by `holder` before `before` (a renew, or the acquire itself). */
      lastWriteBy: (lease: string, holder: string, before: number): number | undefined =>
        (events.get(lease) ?? []).filter((e) => e.holder === holder && e.mono <= before && e.type !== "DELETED")
          .at(-1)?.mono,
      stop: () => {
        stopped = true
        current?.destroy()
      }
    }
  }

  const createPod = async (name: string) => {
    const res = await api("POST", "/api/v1/namespaces/default/pods", {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name },
      spec: { containers: [{ name: "main", image: "registry.k8s.io/pause:3.10" }] }
    })
    if (res.status !== 201) throw new Error(`create Pod ${name}: ${res.status} ${res.body}`)
  }
  const deletePod = async (name: string) => {
    const res = await api("DELETE", `/api/v1/namespaces/default/pods/${name}`)
    if (res.status !== 200 && res.status !== 202) throw new Error(`delete Pod ${name}: ${res.status} ${res.body}`)
  }

  return { api, requestCounts, openLeaseWatches, watchLeases, createPod, deletePod, close: () => agent.destroy() }
}
