/**
 * What one watch event costs a follower: the bench itself holds a Lease and renews it, first at the profile's
 * retryPeriod (as a leader does), then every `burstIntervalMs`; the follower's extra CPU in the second window over its
 * extra events is the marginal cost of one renew event (for ours: reading and decoding it, the observer, and whatever
 * it wakes). Idle costs (timers, GC of start-up garbage, the credential refresh) cancel out. The floor is the same
 * measure of a bare Node client that watches the Lease and parses each event (bench/bareWatcher.mjs), on the Node of
 * each edition of the run: the bench's for Effect 3, Node 24 for Effect 4.
 */
import { spawn } from "node:child_process"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { type Candidate, node24Path } from "../../testkit/candidates.js"
import type { Bench } from "../context.js"
import { candidate, procStats, sees } from "../processes.js"
import { editionOf, isOurs, log, type Ours, type Profile, sleep, uid } from "../settings.js"

const bareWatcher = path.join(path.dirname(fileURLToPath(import.meta.url)), "../bareWatcher.mjs")

export interface EventsWindow {
  readonly events: number
  readonly cpuSeconds: number
}
export interface FollowerEvents {
  readonly idle: EventsWindow
  readonly burst: EventsWindow
  /** (burst CPU - idle CPU) / (burst events - idle events), in ms. */
  readonly msPerEvent: number | undefined
}
/** Ours by edition (each measured only if the run has it), and the bare client on each edition's Node. */
export interface EventsResult {
  readonly windowSeconds: number
  readonly burstIntervalMs: number
  /** Effect 3, on the bench's Node. */
  readonly ours?: FollowerEvents
  /** Effect 4, on Node 24. */
  readonly ours4?: FollowerEvents
  /** The bare client on the bench's Node: Effect 3's floor. */
  readonly bare?: FollowerEvents
  /** The bare client on Node 24: Effect 4's floor. */
  readonly bareNode24?: FollowerEvents
}

const microTime = () => new Date().toISOString().replace(/Z$/, "000Z")
const holder = "bench-holder"

/** One follower (started by `start` on the Lease `name`) through the two windows. */
const measureFollower = async (
  bench: Bench,
  profile: Profile,
  windowSeconds: number,
  burstIntervalMs: number,
  label: string,
  start: (name: string) => Promise<{ readonly pid: number | undefined; readonly ready: Promise<unknown> }>,
  stop: () => Promise<void>
): Promise<FollowerEvents> => {
  const name = `bench-events-${label}-${uid()}`
  const base = `/apis/coordination.k8s.io/v1/namespaces/default/leases`
  const write = async (method: "POST" | "PUT", body: unknown) => {
    const res = await bench.server.api(method, method === "POST" ? base : `${base}/${name}`, body)
    if (res.status !== 200 && res.status !== 201) throw new Error(`${method} Lease ${name}: ${res.status} ${res.body}`)
    return JSON.parse(res.body)
  }
  const acquiredAt = microTime()
  const spec = () => ({
    holderIdentity: holder,
    leaseDurationSeconds: Math.round(profile.leaseMs / 1000),
    acquireTime: acquiredAt,
    renewTime: microTime(),
    leaseTransitions: 0
  })
  let lease = await write("POST", {
    apiVersion: "coordination.k8s.io/v1",
    kind: "Lease",
    metadata: { name },
    spec: spec()
  })
  /** Renews every `intervalMs` for the window, as the holder; the number of renews. */
  const renewFor = async (intervalMs: number) => {
    const until = Date.now() + windowSeconds * 1000
    let renews = 0
    while (Date.now() < until) {
      const next = Date.now() + intervalMs
      lease = await write("PUT", { ...lease, spec: spec() })
      renews++
      await sleep(Math.max(0, next - Date.now()))
    }
    return renews
  }
  try {
    const follower = await start(name)
    await follower.ready
    // Past start-up: a few renews at the leader's pace first.
    const until = Date.now() + 3 * profile.retryMs
    while (Date.now() < until) {
      lease = await write("PUT", { ...lease, spec: spec() })
      await sleep(profile.retryMs)
    }
    const window = async (intervalMs: number): Promise<EventsWindow> => {
      const before = procStats(follower.pid)
      const events = await renewFor(intervalMs)
      const after = procStats(follower.pid)
      if (before === undefined || after === undefined) throw new Error(`the ${label} follower is gone`)
      return { events, cpuSeconds: after.cpuSeconds - before.cpuSeconds }
    }
    log(
      `events ${label}: ${windowSeconds} s at the leader's pace, then ${windowSeconds} s of a renew every ${burstIntervalMs} ms`
    )
    const idle = await window(profile.retryMs)
    const burst = await window(burstIntervalMs)
    const extra = burst.events - idle.events
    return { idle, burst, msPerEvent: extra > 0 ? (burst.cpuSeconds - idle.cpuSeconds) * 1000 / extra : undefined }
  } finally {
    await stop()
  }
}

export const measureEvents = async (
  bench: Bench,
  profile: Profile,
  options: {
    readonly windowSeconds?: number | undefined
    readonly burstIntervalMs?: number | undefined
    readonly nodeArgs?: ReadonlyArray<string> | undefined
  } = {}
): Promise<EventsResult> => {
  const windowSeconds = options.windowSeconds ?? 30
  const burstIntervalMs = options.burstIntervalMs ?? 40
  const oursFollower = (impl: Ours) => {
    let follower: Candidate | undefined
    return measureFollower(bench, profile, windowSeconds, burstIntervalMs, impl, async (name) => {
      follower = await candidate(
        bench.cp.adminKubeconfig,
        impl,
        profile,
        name,
        `${impl}-events-follower`,
        options.nodeArgs
      )
      return { pid: follower.process.pid, ready: follower.waitFor(sees(holder), 60_000) }
    }, async () => {
      if (follower === undefined) return
      const led = follower.events.some((e) => e.event === "started_leading")
      follower.process.kill("SIGTERM")
      await follower.exited
      if (led) throw new Error(`the ${impl} follower of the events phase led: the Lease expired under it`)
    })
  }
  const bareFollower = (node: string, label: string) => {
    let bare: ReturnType<typeof spawn> | undefined
    return measureFollower(bench, profile, windowSeconds, burstIntervalMs, label, async (name) => {
      const child = spawn(node, [bareWatcher, bench.cp.server, bench.cp.tokens["admin"]!, "default", name], {
        stdio: ["ignore", "pipe", "inherit"]
      })
      bare = child
      const ready = new Promise((resolve, reject) => {
        child.stdout!.once("data", resolve)
        child.once("exit", (code) => reject(new Error(`the bare watcher exited (${code})`)))
      })
      return { pid: child.pid, ready }
    }, async () => {
      if (bare === undefined || bare.exitCode !== null) return
      const exited = new Promise((resolve) => bare!.once("exit", resolve))
      bare.kill("SIGTERM")
      await exited
    })
  }
  // One follower at a time: each window measures one process's CPU.
  const result: { -readonly [K in keyof EventsResult]: EventsResult[K] } = { windowSeconds, burstIntervalMs }
  const editions = bench.settings.impls.filter(isOurs)
  for (const impl of editions) result[impl] = await oursFollower(impl)
  for (const impl of editions) {
    if (editionOf(impl) === 3) result.bare = await bareFollower(process.execPath, "bare")
    else result.bareNode24 = await bareFollower(node24Path(), "bare-node24")
  }
  return result
}
