/**
 * The floor of a Lease handover on this API server, measured in the same run as the candidates (the machine is
 * shared): a bare client with a kept-alive agent writes a Lease (PUT), and a watch on another connection receives
 * each write. A graceful handover is at least a release PUT, its watch event and the follower's PUT; a follower that
 * saw the release needs at least one PUT; a crash takeover past the expiry, one PUT.
 */
import * as https from "node:https"
import { connectionOf, loadFile } from "../../src/internal/kubeConfig.js"
import { request } from "../../testkit/api.js"
import { type Stats, stats } from "../stats.js"

export interface FloorResult {
  readonly trials: number
  /** From the start of a PUT to its answer. */
  readonly putMs: Stats | undefined
  /** From the start of a PUT to its event on the other connection's watch. */
  readonly watchMs: Stats | undefined
}

const now = () => Number(process.hrtime.bigint()) / 1e6

export const measureFloor = async (kubeconfig: string, namespace = "default", trials = 60): Promise<FloorResult> => {
  const source = connectionOf(loadFile(kubeconfig))
  const { headers, tls } = await source.credentials(false)
  const writer = new https.Agent({ keepAlive: true, ...tls })
  const watcher = new https.Agent({ keepAlive: true, ...tls })
  const name = `floor-${Date.now().toString(36)}`
  const base = `${source.server}/apis/coordination.k8s.io/v1/namespaces/${namespace}/leases`
  const call = async (agent: https.Agent, method: string, url: string, body?: unknown) => {
    const response = await request(agent, url, { method, headers, body })
    return { status: response.status, body: JSON.parse(response.body) }
  }

  let lease = (await call(writer, "POST", base, {
    apiVersion: "coordination.k8s.io/v1",
    kind: "Lease",
    metadata: { name },
    spec: { holderIdentity: "floor", leaseDurationSeconds: 15 }
  })).body
  const arrivals = new Map<string, number>()
  const watch = https.request(
    `${base}?watch=1&fieldSelector=metadata.name%3D${name}&resourceVersion=${lease.metadata.resourceVersion}`,
    { agent: watcher, headers: { ...headers, Accept: "application/json" } },
    (response) => {
      let buffered = ""
      response.setEncoding("utf8").on("data", (chunk: string) => {
        const at = now()
        buffered += chunk
        let newline = buffered.indexOf("\n")
        while (newline >= 0) {
          const event = JSON.parse(buffered.slice(0, newline))
          buffered = buffered.slice(newline + 1)
          arrivals.set(event.object.metadata.resourceVersion, at)
          newline = buffered.indexOf("\n")
        }
      })
    }
  )
  watch.on("error", () => {})
  watch.end()
  await new Promise((resolve) => setTimeout(resolve, 300))

  const puts: Array<number> = []
  const deliveries: Array<number> = []
  for (let i = 0; i < trials; i++) {
    const started = now()
    const written = await call(writer, "PUT", `${base}/${name}`, {
      ...lease,
      spec: { ...lease.spec, renewTime: new Date().toISOString().replace("Z", "000Z") }
    })
    puts.push(now() - started)
    lease = written.body
    const deadline = Date.now() + 2000
    while (!arrivals.has(lease.metadata.resourceVersion) && Date.now() < deadline) {
      await new Promise((resolve) => setImmediate(resolve))
    }
    const arrived = arrivals.get(lease.metadata.resourceVersion)
    if (arrived !== undefined) deliveries.push(arrived - started)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  watch.destroy()
  await call(writer, "DELETE", `${base}/${name}`)
  writer.destroy()
  watcher.destroy()
  return { trials, putMs: stats(puts), watchMs: stats(deliveries) }
}
