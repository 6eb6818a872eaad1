/**
 * `npm run bench`: ours against client-go's leader election, side by side, on a local control plane that this
 * script starts and stops (testkit/controlPlane.ts). See docs/benchmarks.md for the method and the latest table.
 *
 *   tsx bench/run.ts [--trials 20] [--steady 120] [--profile default|fast|both]
 *                    [--only graceful,crash,lfl,load,scale,cost] [--quick] [--scale 50] [--parallel 1]
 *                    [--lfl-trials 5] [--no-docs]
 *   tsx bench/run.ts --render bench/results/latest.json   # the table and docs/benchmarks.md from a results file
 *   tsx bench/run.ts --render A.json --merge B.json        # ... with B's phases replacing A's (writes latest.json)
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process"
import { randomBytes } from "node:crypto"
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs"
import * as https from "node:https"
import * as os from "node:os"
import * as path from "node:path"
import { createInterface } from "node:readline"
import { fileURLToPath } from "node:url"
import { parseArgs } from "node:util"
import { request } from "../testkit/api.js"
import { buildCandidate } from "../testkit/buildCandidate.js"
import { type Candidate, type CandidateEvent, kill, monoNow, spawnCandidate } from "../testkit/candidates.js"
import { type ControlPlane, ensureBinaries, startControlPlane } from "../testkit/controlPlane.js"
import { leadershipIntervals, overlaps } from "../testkit/intervals.js"
import { type FloorResult, measureFloor } from "./floor.js"
import { measureMemory } from "./memory.js"
import { type Stats, stats } from "./stats.js"

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")

// ---------------------------------------------------------------------------------------------------------------------
// Settings
// ---------------------------------------------------------------------------------------------------------------------

const { values: flags } = parseArgs({
  options: {
    trials: { type: "string" },
    steady: { type: "string" },
    profile: { type: "string", default: "both" },
    only: { type: "string" },
    quick: { type: "boolean", default: false },
    scale: { type: "string" },
    parallel: { type: "string" },
    "lfl-trials": { type: "string" },
    "no-docs": { type: "boolean", default: false },
    render: { type: "string" },
    merge: { type: "string" },
    keep: { type: "boolean", default: false }
  }
})

type Impl = "ours" | "client-go"
type ProfileName = "default" | "fast"
const impls: ReadonlyArray<Impl> = ["ours", "client-go"]
const phases = ["graceful", "warm", "crash", "lfl", "load", "scale", "cost", "memory"] as const
type Phase = (typeof phases)[number]

interface Profile {
  readonly name: ProfileName
  readonly leaseDuration: string
  readonly renewDeadline: string
  readonly retryPeriod: string
  readonly leaseMs: number
  readonly retryMs: number
}
const profiles: Record<ProfileName, Profile> = {
  default: {
    name: "default",
    leaseDuration: "15s",
    renewDeadline: "10s",
    retryPeriod: "2s",
    leaseMs: 15_000,
    retryMs: 2_000
  },
  fast: { name: "fast", leaseDuration: "4s", renewDeadline: "3s", retryPeriod: "1s", leaseMs: 4_000, retryMs: 1_000 }
}

const quick = flags.quick
const settings = {
  quick,
  trials: Number(flags.trials ?? (quick ? 3 : 20)),
  steadySeconds: Number(flags.steady ?? (quick ? 20 : 120)),
  scaleCount: Number(flags.scale ?? (quick ? 10 : 50)),
  parallel: Math.max(1, Number(flags.parallel ?? 1)),
  lflScheduleTrials: Number(flags["lfl-trials"] ?? (quick ? 2 : 5)),
  /** How long the schedule-only follower waits before the holder's Pod is deleted: U(min, max) seconds. */
  lflWait: quick ? [2, 10] as const : [31, 67] as const,
  profiles: (flags.profile === "both" ? ["default", "fast"] : [flags.profile]) as Array<ProfileName>,
  only: (flags.only === undefined ? [...phases] : flags.only.split(",").map((s) => s.trim())) as Array<Phase>
}
for (const p of settings.profiles) if (!(p in profiles)) throw new Error(`--profile: unknown profile ${p}`)
for (const p of settings.only) if (!phases.includes(p)) throw new Error(`--only: unknown phase ${p} (${phases})`)
const selected = (phase: Phase) => settings.only.includes(phase)

const log = (line: string) => process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}\n`)
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))
const uniform = (min: number, max: number) => min + Math.random() * (max - min)
const nsToMs = (ns: number) => ns / 1e6

// ---------------------------------------------------------------------------------------------------------------------
// The API server: admin requests, /metrics, a watch of the Leases
// ---------------------------------------------------------------------------------------------------------------------

let cp: ControlPlane
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

/** Requests per minute by "resource verb" between two samples, for the given resources. */
const ratePerMinute = (
  before: Map<string, number>,
  after: Map<string, number>,
  seconds: number,
  resources: ReadonlyArray<string>
): Record<string, number> => {
  const out: Record<string, number> = {}
  for (const [key, value] of after) {
    const [resource] = key.split(" ")
    if (!resources.includes(resource!)) continue
    const delta = value - (before.get(key) ?? 0)
    if (delta !== 0) out[key] = (delta * 60) / seconds
  }
  return out
}
const minus = (a: Record<string, number>, b: Record<string, number>): Record<string, number> => {
  const out: Record<string, number> = {}
  for (const key of new Set([...Object.keys(a), ...Object.keys(b)])) {
    const value = (a[key] ?? 0) - (b[key] ?? 0)
    if (Math.abs(value) > 1e-9) out[key] = value
  }
  return out
}
const total = (rates: Record<string, number>) => Object.values(rates).reduce((a, b) => a + b, 0)
const verbRate = (rates: Record<string, number>, verb: string) =>
  Object.entries(rates).filter(([key]) => key.endsWith(` ${verb}`)).reduce((a, [, v]) => a + v, 0)

interface LeaseEvent {
  readonly mono: number
  readonly type: string
  readonly holder: string
  readonly renewTime: string
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

// ---------------------------------------------------------------------------------------------------------------------
// Processes
// ---------------------------------------------------------------------------------------------------------------------

const clockTicks = (() => {
  try {
    return Number(execFileSync("getconf", ["CLK_TCK"]).toString().trim()) || 100
  } catch {
    return 100
  }
})()

interface ProcStats {
  readonly rssMiB: number
  readonly cpuSeconds: number
}
/** The process and its descendants (tsx may run helpers), from /proc/PID/task/TID/children. */
const descendants = (pid: number): Array<number> => {
  const out: Array<number> = []
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      const children = readFileSync(`/proc/${pid}/task/${tid}/children`, "utf8").trim()
      for (const child of children === "" ? [] : children.split(" ").map(Number)) out.push(child, ...descendants(child))
    }
  } catch {
    // gone
  }
  return out
}
const procStats = (pid: number | undefined): ProcStats | undefined => {
  if (pid === undefined) return undefined
  const all = [pid, ...descendants(pid)].map(ownStats)
  if (all[0] === undefined) return undefined
  return all.reduce<ProcStats>(
    (a, b) => ({ rssMiB: a.rssMiB + (b?.rssMiB ?? 0), cpuSeconds: a.cpuSeconds + (b?.cpuSeconds ?? 0) }),
    { rssMiB: 0, cpuSeconds: 0 }
  )
}
const ownStats = (pid: number): ProcStats | undefined => {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8")
    const rssKiB = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0)
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
    const cpuSeconds = (Number(fields[11]) + Number(fields[12])) / clockTicks
    return { rssMiB: rssKiB / 1024, cpuSeconds }
  } catch {
    return undefined
  }
}

let counter = 0
const uid = () => `${Date.now().toString(36)}${(counter++).toString(36)}${randomBytes(2).toString("hex")}`

const candidate = (impl: Impl, profile: Profile, lease: string, identity: string) =>
  spawnCandidate({
    impl,
    kubeconfig: cp.adminKubeconfig,
    name: lease,
    identity,
    leaseDuration: profile.leaseDuration,
    renewDeadline: profile.renewDeadline,
    retryPeriod: profile.retryPeriod
  })

const isStarted = (e: CandidateEvent) => e.event === "started_leading"
const sees = (leader: string) => (e: CandidateEvent) => e.event === "new_leader" && e.leader === leader

/** SIGTERM, then SIGKILL if it has not exited within `graceMs`. */
const stop = async (c: Candidate, graceMs = 20_000) => {
  if (c.process.exitCode !== null || c.process.signalCode !== null) return
  c.process.kill("SIGTERM")
  const timer = setTimeout(() => c.process.kill("SIGKILL"), graceMs)
  await c.exited
  clearTimeout(timer)
}

/** Spawns the schedule-only leader-for-life candidate (bench/lflCandidate.ts), with the harness' event shape. */
const spawnScheduleOnly = (lock: string, identity: string): Candidate => {
  const child: ChildProcess = spawn(process.execPath, [
    "--import",
    "tsx",
    path.join(repoRoot, "bench/lflCandidate.ts"),
    "--kubeconfig",
    cp.adminKubeconfig,
    "--name",
    lock,
    "--identity",
    identity
  ], { cwd: repoRoot, stdio: ["ignore", "pipe", "pipe"] })
  const events: Array<CandidateEvent> = []
  let stderr = ""
  child.stderr!.on("data", (chunk) => {
    stderr = (stderr + String(chunk)).slice(-5000)
  })
  createInterface({ input: child.stdout! }).on("line", (line) => {
    if (line.startsWith("{")) {
      try {
        events.push(JSON.parse(line))
      } catch {
        // ignore
      }
    }
  })
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)))
  const waitFor: Candidate["waitFor"] = async (predicate, timeoutMs = 30_000) => {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const found = events.find(predicate)
      if (found !== undefined) return found
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${identity} exited:\n${stderr}`)
      if (Date.now() > deadline) throw new Error(`${identity}: timed out; ${JSON.stringify(events)}\n${stderr}`)
      await sleep(5)
    }
  }
  return { identity, events, process: child, waitFor, exited, output: () => stderr }
}

// ---------------------------------------------------------------------------------------------------------------------
// Phases
// ---------------------------------------------------------------------------------------------------------------------

interface HandoverTrial {
  readonly from: string
  readonly to: string
  /** ms from the signal to the follower's started_leading. */
  readonly fromSignalMs: number
  /** graceful: ms from the holder's stopped_leading to the follower's started_leading. */
  readonly fromStopMs?: number
  /** graceful: ms from the holder's stopped_leading to its release (holder "") arriving on the bench's watch. */
  readonly releaseVisibleMs?: number
  /** graceful: ms from the release arriving on the bench's watch to the follower's started_leading. */
  readonly afterReleaseMs?: number
  /** crash: ms from the holder's last write seen on the bench's watch + leaseDuration to started_leading. */
  readonly excessMs?: number
  readonly delayMs: number
}
interface HandoverResult {
  readonly trials: Array<HandoverTrial>
  readonly errors: Array<string>
  readonly overlap: boolean
  readonly stats: Record<string, Stats | undefined>
}

/**
 * One chain of trials on one Lease: a leader, then per trial a new follower that, once it has seen the leader and
 * after a random delay (a random phase of the renew and poll cycles), takes over from a SIGTERMed (graceful) or
 * SIGKILLed (crash) holder. The follower of one trial is the holder of the next.
 */
const handoverChain = async (
  kind: "graceful" | "crash",
  impl: Impl,
  profile: Profile,
  trials: number,
  watcher: ReturnType<typeof watchLeases> | undefined
): Promise<{ trials: Array<HandoverTrial>; errors: Array<string>; overlap: boolean }> => {
  const lease = `bench-${kind}-${impl}-${profile.name}-${uid()}`
  const out: Array<HandoverTrial> = []
  const errors: Array<string> = []
  const all: Array<Candidate> = []
  let leader: Candidate | undefined
  let n = 0
  const timeout = kind === "crash" ? 2 * profile.leaseMs + 30_000 : profile.leaseMs + 30_000
  while (out.length < trials && n < trials + 3) {
    n++
    try {
      if (leader === undefined) {
        leader = await candidate(impl, profile, lease, `${impl}-${n}-l`)
        all.push(leader)
        await leader.waitFor(isStarted, profile.leaseMs * 2 + 60_000)
      }
      const follower = await candidate(impl, profile, lease, `${impl}-${n}`)
      all.push(follower)
      const seen = await follower.waitFor(sees(leader.identity), 60_000)
      if (kind === "crash") {
        // A follower can time the expiry only from a change it saw: until the holder's first renew after the
        // follower's first look, it counts from that look, however old the record. Kill after such a renew.
        const deadline = Date.now() + 5 * profile.retryMs + 10_000
        while ((watcher!.lastWriteBy(lease, leader.identity, monoNow()) ?? 0) < seen.mono_ns + 50e6) {
          if (Date.now() > deadline) throw new Error(`no renew of ${leader.identity} seen after its follower started`)
          await sleep(20)
        }
      }
      const delayMs = kind === "crash" ? uniform(0, 1.2 * profile.retryMs) : uniform(500, 500 + 2.2 * profile.retryMs)
      await sleep(delayMs)
      const signalAt = monoNow()
      await kill(leader, kind === "graceful" ? "SIGTERM" : "SIGKILL")
      const started = await follower.waitFor(isStarted, timeout)
      const trial: HandoverTrial = {
        from: leader.identity,
        to: follower.identity,
        fromSignalMs: nsToMs(started.mono_ns - signalAt),
        delayMs
      }
      if (kind === "graceful") {
        const stopped = leader.events.find((e) => e.event === "stopped_leading")
        if (stopped !== undefined) Object.assign(trial, { fromStopMs: nsToMs(started.mono_ns - stopped.mono_ns) })
        const release = (watcher?.events.get(lease) ?? []).find((e) => e.mono >= signalAt && e.holder === "")
        if (stopped !== undefined && release !== undefined) {
          Object.assign(trial, {
            releaseVisibleMs: nsToMs(release.mono - stopped.mono_ns),
            afterReleaseMs: nsToMs(started.mono_ns - release.mono)
          })
        }
      } else if (watcher !== undefined) {
        const last = watcher.lastWriteBy(lease, leader.identity, started.mono_ns)
        if (last !== undefined) Object.assign(trial, { excessMs: nsToMs(started.mono_ns - last) - profile.leaseMs })
      }
      out.push(trial)
      log(
        `${kind} ${impl} ${profile.name} #${out.length}: ${trial.fromSignalMs.toFixed(1)} ms from the signal${
          trial.excessMs === undefined ? "" : `, excess ${trial.excessMs.toFixed(1)} ms`
        }`
      )
      leader = follower
    } catch (error) {
      errors.push((error as Error).message.split("\n")[0]!)
      log(`${kind} ${impl} ${profile.name}: trial failed: ${errors.at(-1)}`)
      await Promise.all(all.map((c) => stop(c)))
      leader = undefined
    }
  }
  await Promise.all(all.map((c) => stop(c)))
  return { trials: out, errors, overlap: overlaps(leadershipIntervals(all)) }
}

const handover = async (
  kind: "graceful" | "crash",
  profile: Profile
): Promise<Record<Impl, HandoverResult>> => {
  const watcher = watchLeases()
  try {
    // Crash trials mostly wait for the lease to expire: --parallel runs several chains side by side.
    const chainCount = kind === "crash" ? settings.parallel : 1
    const perChain = Math.ceil(settings.trials / chainCount)
    const results = await Promise.all(impls.map(async (impl) => {
      const chains = await Promise.all(
        Array.from(
          { length: settings.parallel },
          (_, i) => handoverChain(kind, impl, profile, Math.min(perChain, settings.trials - i * perChain), watcher)
        )
      )
      const trials = chains.flatMap((c) => c.trials)
      const result: HandoverResult = {
        trials,
        errors: chains.flatMap((c) => c.errors),
        overlap: chains.some((c) => c.overlap),
        stats: {
          fromSignalMs: stats(trials.map((t) => t.fromSignalMs)),
          fromStopMs: stats(trials.flatMap((t) => t.fromStopMs ?? [])),
          releaseVisibleMs: stats(trials.flatMap((t) => t.releaseVisibleMs ?? [])),
          afterReleaseMs: stats(trials.flatMap((t) => t.afterReleaseMs ?? [])),
          excessMs: stats(trials.flatMap((t) => t.excessMs ?? []))
        }
      }
      return [impl, result] as const
    }))
    return Object.fromEntries(results) as Record<Impl, HandoverResult>
  } finally {
    watcher.stop()
  }
}

/**
 * Warm handovers, ours only: the graceful handover of `handover` is the first acquisition of a new process (its code
 * runs for the first time, not yet compiled). Here two candidates hand over to each other on SIGUSR2 (the leader
 * releases and enters the election again) after a few warm-up rounds, so both run code that has run before.
 */
const warmHandover = async (profile: Profile): Promise<HandoverResult> => {
  const watcher = watchLeases()
  const lease = `bench-warm-${profile.name}-${uid()}`
  const warmup = 4
  const spawned: Array<Candidate> = []
  const trials: Array<HandoverTrial> = []
  const errors: Array<string> = []
  try {
    const start = async (identity: string) => {
      const c = await spawnCandidate({
        impl: "ours",
        kubeconfig: cp.adminKubeconfig,
        name: lease,
        identity,
        leaseDuration: profile.leaseDuration,
        renewDeadline: profile.renewDeadline,
        retryPeriod: profile.retryPeriod,
        stepDownOnUsr2: true
      })
      spawned.push(c)
      return c
    }
    let leader = await start("warm-a")
    await leader.waitFor(isStarted, 60_000)
    let follower = await start("warm-b")
    await follower.waitFor(sees(leader.identity), 60_000)
    for (let round = 0; round < settings.trials + warmup; round++) {
      const delayMs = uniform(500, 500 + 2.2 * profile.retryMs)
      await sleep(delayMs)
      const signalAt = monoNow()
      leader.process.kill("SIGUSR2")
      const started = await follower.waitFor((e) => isStarted(e) && e.mono_ns > signalAt, profile.leaseMs + 30_000)
      const stopped = leader.events.find((e) => e.event === "stopped_leading" && e.mono_ns > signalAt)
      const release = (watcher.events.get(lease) ?? []).find((e) => e.mono >= signalAt && e.holder === "")
      if (round >= warmup) {
        const trial: HandoverTrial = {
          from: leader.identity,
          to: follower.identity,
          fromSignalMs: nsToMs(started.mono_ns - signalAt),
          delayMs,
          ...(stopped === undefined ? {} : { fromStopMs: nsToMs(started.mono_ns - stopped.mono_ns) }),
          ...(stopped === undefined || release === undefined ? {} : {
            releaseVisibleMs: nsToMs(release.mono - stopped.mono_ns),
            afterReleaseMs: nsToMs(started.mono_ns - release.mono)
          })
        }
        trials.push(trial)
        log(`warm ours ${profile.name} #${trials.length}: ${trial.fromSignalMs.toFixed(1)} ms from the signal`)
      }
      ;[leader, follower] = [follower, leader]
    }
  } catch (error) {
    errors.push((error as Error).message.split("\n")[0]!)
    log(`warm ours ${profile.name}: failed: ${errors.at(-1)}`)
  } finally {
    watcher.stop()
    await Promise.all(spawned.map((c) => stop(c)))
  }
  return {
    trials,
    errors,
    overlap: overlaps(leadershipIntervals(spawned)),
    stats: {
      fromSignalMs: stats(trials.map((t) => t.fromSignalMs)),
      fromStopMs: stats(trials.flatMap((t) => t.fromStopMs ?? [])),
      releaseVisibleMs: stats(trials.flatMap((t) => t.releaseVisibleMs ?? [])),
      afterReleaseMs: stats(trials.flatMap((t) => t.afterReleaseMs ?? []))
    }
  }
}

let baselineWatches = 0

/** Requests per minute of the control plane itself (its own Leases), subtracted from every load window. */
const measureBaseline = async (seconds: number) => {
  log(`baseline: ${seconds} s with no candidate`)
  const before = await requestCounts()
  await sleep(seconds * 1000)
  const after = await requestCounts()
  baselineWatches = await openLeaseWatches()
  return ratePerMinute(before, after, seconds, ["leases", "configmaps", "pods"])
}

interface LoadResult {
  readonly leaderPerMin: Record<string, number>
  readonly followerPerMin: Record<string, number>
  readonly pairPerMin: Record<string, number>
  /** Open Lease watches at the end of the leader-alone and the pair windows, the control plane's own excluded. */
  readonly openWatches?: { readonly leaderAlone: number; readonly pair: number }
  readonly windowSeconds: number
  readonly cost: {
    readonly leader: { readonly rssMiB: number; readonly cpuSeconds: number; readonly cpuSecondsInWindow: number }
    readonly follower: { readonly rssMiB: number; readonly cpuSeconds: number; readonly cpuSecondsInWindow: number }
  } | undefined
}

const settleMs = (profile: Profile) => 3_000 + 2.2 * profile.retryMs

/** Leader alone for a window, then leader + follower for a window (leases only). */
const measureLoad = async (impl: Impl, profile: Profile, baseline: Record<string, number>): Promise<LoadResult> => {
  const lease = `bench-load-${impl}-${profile.name}-${uid()}`
  const seconds = settings.steadySeconds
  const leader = await candidate(impl, profile, lease, `${impl}-leader`)
  let follower: Candidate | undefined
  try {
    await leader.waitFor(isStarted, 60_000)
    await sleep(settleMs(profile))
    log(`load ${impl} ${profile.name}: leader alone for ${seconds} s`)
    const l0 = procStats(leader.process.pid)
    const s0 = await requestCounts()
    await sleep(seconds * 1000)
    const s1 = await requestCounts()
    const w1 = await openLeaseWatches()
    const l1 = procStats(leader.process.pid)
    follower = await candidate(impl, profile, lease, `${impl}-follower`)
    await follower.waitFor(sees(leader.identity), 60_000)
    await sleep(settleMs(profile))
    log(`load ${impl} ${profile.name}: leader + follower for ${seconds} s`)
    const f0 = procStats(follower.process.pid)
    const s2 = await requestCounts()
    await sleep(seconds * 1000)
    const s3 = await requestCounts()
    const w3 = await openLeaseWatches()
    const f1 = procStats(follower.process.pid)
    const alone = ratePerMinute(s0, s1, seconds, ["leases"])
    const pair = ratePerMinute(s2, s3, seconds, ["leases"])
    const leasesBaseline = Object.fromEntries(Object.entries(baseline).filter(([k]) => k.startsWith("leases ")))
    if (leader.events.filter(isStarted).length !== 1 || follower.events.some(isStarted)) {
      throw new Error(`load ${impl}: leadership changed during the window`)
    }
    return {
      leaderPerMin: minus(alone, leasesBaseline),
      followerPerMin: minus(pair, alone),
      pairPerMin: minus(pair, leasesBaseline),
      openWatches: { leaderAlone: w1 - baselineWatches, pair: w3 - baselineWatches },
      windowSeconds: seconds,
      cost: l0 && l1 && f0 && f1
        ? {
          leader: { rssMiB: l1.rssMiB, cpuSeconds: l1.cpuSeconds, cpuSecondsInWindow: l1.cpuSeconds - l0.cpuSeconds },
          follower: { rssMiB: f1.rssMiB, cpuSeconds: f1.cpuSeconds, cpuSecondsInWindow: f1.cpuSeconds - f0.cpuSeconds }
        }
        : undefined
    }
  } finally {
    await Promise.all([leader, ...(follower ? [follower] : [])].map((c) => stop(c)))
  }
}

interface ScaleResult {
  readonly count: number
  readonly totalPerMin: Record<string, number>
  readonly openWatches?: number
  readonly windowSeconds: number
  /** ms from spawning all to the first started_leading. */
  readonly firstLeaderFromSpawnMs: number
  /** ms from the first candidate's "ready" to the first started_leading. */
  readonly firstLeaderFromReadyMs: number
  /** ms from spawning all to the last "ready". */
  readonly allReadyMs: number
  readonly leaders: number
  readonly overlap: boolean
  readonly avgRssMiB: number
  readonly avgCpuSecondsInWindow: number
  readonly avgCpuSeconds: number
}

const measureScale = async (impl: Impl, profile: Profile, baseline: Record<string, number>): Promise<ScaleResult> => {
  const lease = `bench-scale-${impl}-${profile.name}-${uid()}`
  const count = settings.scaleCount
  const seconds = Math.max(10, Math.round(settings.steadySeconds / 2))
  log(`scale ${impl} ${profile.name}: ${count} candidates`)
  const t0 = monoNow()
  const all = await Promise.all(
    Array.from({ length: count }, (_, i) => candidate(impl, profile, lease, `${impl}-s${i}`))
  )
  try {
    const first = await Promise.any(all.map((c) => c.waitFor(isStarted, 300_000)))
    await Promise.all(all.map((c) => c.waitFor((e) => e.event === "ready", 300_000)))
    const readies = all.map((c) => c.events.find((e) => e.event === "ready")!.mono_ns)
    await Promise.all(all.map((c) => c.waitFor((e) => e.event === "new_leader" && e.leader !== "", 300_000)))
    await sleep(settleMs(profile) + 2_000)
    const p0 = all.map((c) => procStats(c.process.pid))
    const s0 = await requestCounts()
    await sleep(seconds * 1000)
    const s1 = await requestCounts()
    const w1 = await openLeaseWatches()
    const p1 = all.map((c) => procStats(c.process.pid))
    const leasesBaseline = Object.fromEntries(Object.entries(baseline).filter(([k]) => k.startsWith("leases ")))
    const intervals = leadershipIntervals(all)
    const avg = (values: Array<number>) => values.reduce((a, b) => a + b, 0) / Math.max(1, values.length)
    return {
      count,
      totalPerMin: minus(ratePerMinute(s0, s1, seconds, ["leases"]), leasesBaseline),
      openWatches: w1 - baselineWatches,
      windowSeconds: seconds,
      firstLeaderFromSpawnMs: nsToMs(first.mono_ns - t0),
      firstLeaderFromReadyMs: nsToMs(first.mono_ns - Math.min(...readies)),
      allReadyMs: nsToMs(Math.max(...readies) - t0),
      leaders: all.filter((c) => c.events.some(isStarted)).length,
      overlap: overlaps(intervals),
      avgRssMiB: avg(p1.flatMap((p) => p?.rssMiB ?? [])),
      avgCpuSeconds: avg(p1.flatMap((p) => p?.cpuSeconds ?? [])),
      avgCpuSecondsInWindow: avg(p1.flatMap((p, i) => p && p0[i] ? [p.cpuSeconds - p0[i]!.cpuSeconds] : []))
    }
  } finally {
    await Promise.all(all.map((c) => stop(c, 30_000)))
  }
}

interface LflResult {
  readonly watch: { readonly trials: Array<{ ms: number }>; readonly stats: Stats | undefined; errors: Array<string> }
  readonly scheduleOnly: {
    readonly trials: Array<{ ms: number; waitedBeforeDeleteMs: number }>
    readonly stats: Stats | undefined
    readonly errors: Array<string>
  }
  readonly model: {
    readonly assumption: string
    readonly zio: Stats
    readonly operatorLib: Stats
  }
}

/** Ours (ConfigMap lock, watch-driven): the holder SIGKILLed and its Pod deleted -> the next holder leads. */
const lflWatch = async () => {
  const lock = `bench-lfl-${uid()}`
  const trials: Array<{ ms: number }> = []
  const errors: Array<string> = []
  const all: Array<Candidate> = []
  const spawnPod = async (identity: string) => {
    await createPod(identity)
    const c = await spawnCandidate({
      impl: "ours",
      kubeconfig: cp.adminKubeconfig,
      name: lock,
      identity,
      lock: "configmap"
    })
    all.push(c)
    return c
  }
  let leader: Candidate | undefined
  let n = 0
  while (trials.length < settings.trials && n < settings.trials + 3) {
    n++
    try {
      if (leader === undefined) {
        leader = await spawnPod(`lfl-${uid()}`)
        await leader.waitFor(isStarted, 60_000)
      }
      const follower = await spawnPod(`lfl-${uid()}`)
      await follower.waitFor(sees(leader.identity), 60_000)
      await sleep(uniform(500, 3_000))
      await kill(leader, "SIGKILL")
      const t0 = monoNow()
      await deletePod(leader.identity)
      const started = await follower.waitFor(isStarted, 120_000)
      trials.push({ ms: nsToMs(started.mono_ns - t0) })
      log(`lfl ours (watch) #${trials.length}: ${trials.at(-1)!.ms.toFixed(1)} ms from the Pod's DELETE`)
      leader = follower
    } catch (error) {
      errors.push((error as Error).message.split("\n")[0]!)
      log(`lfl watch: trial failed: ${errors.at(-1)}`)
      await Promise.all(all.map((c) => stop(c)))
      leader = undefined
    }
  }
  await Promise.all(all.map((c) => stop(c)))
  return { trials, stats: stats(trials.map((t) => t.ms)), errors }
}

/** The same with the watch disabled (bench/lflCandidate.ts): independent trials, run side by side. */
const lflScheduleOnly = async () => {
  const errors: Array<string> = []
  const results = await Promise.all(Array.from({ length: settings.lflScheduleTrials }, async (_, i) => {
    const lock = `bench-lfl-sched-${uid()}`
    const [a, b] = [`lfls-${uid()}`, `lfls-${uid()}`]
    const procs: Array<Candidate> = []
    try {
      await sleep(i * 1_500)
      await createPod(a)
      const leader = spawnScheduleOnly(lock, a)
      procs.push(leader)
      await leader.waitFor(isStarted, 60_000)
      await createPod(b)
      const follower = spawnScheduleOnly(lock, b)
      procs.push(follower)
      const ready = await follower.waitFor((e) => e.event === "ready", 60_000)
      const wait = uniform(settings.lflWait[0], settings.lflWait[1]) * 1000
      await sleep(Math.max(0, wait - nsToMs(monoNow() - ready.mono_ns)))
      await kill(leader, "SIGKILL")
      const t0 = monoNow()
      await deletePod(a)
      const started = await follower.waitFor(isStarted, 120_000)
      const trial = { ms: nsToMs(started.mono_ns - t0), waitedBeforeDeleteMs: nsToMs(t0 - ready.mono_ns) }
      log(
        `lfl schedule only #${i + 1}: ${trial.ms.toFixed(0)} ms (follower waited ${
          trial.waitedBeforeDeleteMs.toFixed(0)
        } ms)`
      )
      return [trial]
    } catch (error) {
      errors.push((error as Error).message.split("\n")[0]!)
      return []
    } finally {
      await Promise.all(procs.map((c) => stop(c)))
    }
  }))
  const trials = results.flat()
  return { trials, stats: stats(trials.map((t) => t.ms)), errors }
}

/**
 * Where a follower that has waited long on a backoff schedule wakes after the lock is freed at a uniformly random
 * moment between 40 s and 400 s of waiting: zio-k8s (and our schedule): 1, 2, 4, 8, 16 s then 30 s, each x U(0.8,
 * 1.2); operator-lib: 1 s doubling to a 16 s cap, each x U(1, 1.2) (wait.Backoff jitter 0.2). 100 000 draws.
 */
const modelSchedules = () => {
  let seed = 42
  const rand = () => {
    seed = (seed * 1103515245 + 12345) % 2147483648
    return seed / 2147483648
  }
  const simulate = (step: (i: number) => number) => {
    const delays: Array<number> = []
    for (let draw = 0; draw < 100_000; draw++) {
      const freedAt = 40_000 + rand() * 360_000
      let t = 0
      for (let i = 0; t < freedAt; i++) t += step(i)
      delays.push(t - freedAt)
    }
    return stats(delays)!
  }
  return {
    assumption:
      "lock freed at U(40 s, 400 s) of the follower's wait; delay to its next wake; GC and write not included",
    zio: simulate((i) => Math.min(1000 * 2 ** i, 30_000) * (0.8 + 0.4 * rand())),
    operatorLib: simulate((i) => Math.min(1000 * 2 ** i, 16_000) * (1 + 0.2 * rand()))
  }
}

// ---------------------------------------------------------------------------------------------------------------------
// Report
// ---------------------------------------------------------------------------------------------------------------------

interface ProfileResults {
  graceful?: Record<Impl, HandoverResult>
  /** Ours only: handovers between two processes that have both led before (SIGUSR2: release, enter again). */
  warm?: HandoverResult
  crash?: Record<Impl, HandoverResult>
  load?: Record<Impl, LoadResult>
  scale?: Record<Impl, ScaleResult>
}

interface Target {
  readonly target: string
  readonly profile: string
  readonly value: string
  readonly met: boolean | undefined
  readonly reason: string
}

const fmt = (value: number | undefined, digits = 0) =>
  value === undefined || Number.isNaN(value) ? "-" : value.toFixed(digits)
const ratio = (a: number | undefined, b: number | undefined) =>
  a === undefined || b === undefined || a < 0 || b <= 0 ? "-" : `${(a / b).toFixed(2)}x`

const buildTable = (
  results: Record<string, ProfileResults>,
  lfl: LflResult | undefined,
  floor: FloorResult | undefined
) => {
  const rows: Array<[string, string, string, string]> = []
  const row = (label: string, ours: number | undefined, go: number | undefined, digits = 0) =>
    rows.push([label, fmt(ours, digits), fmt(go, digits), ratio(ours, go)])
  // The floor of this API server in this run: a bare kept-alive client's Lease PUT, and its event on another watch.
  const [floorPut, floorWatch] = [floor?.putMs?.p50, floor?.watchMs?.p50]
  const floorHandover = floorPut !== undefined && floorWatch !== undefined ? floorWatch + floorPut : undefined
  if (floor) {
    rows.push(["floor: bare kept-alive client, Lease PUT p50 (ms)", fmt(floorPut, 1), "-", "-"])
    rows.push(["floor: bare kept-alive client, Lease PUT p95 (ms)", fmt(floor.putMs?.p95, 1), "-", "-"])
    rows.push(["floor: PUT start -> its event on another connection's watch p50 (ms)", fmt(floorWatch, 1), "-", "-"])
    rows.push(["floor: graceful handover (release, its event, the next PUT) p50 (ms)", fmt(floorHandover, 1), "-", "-"])
  }
  const vsFloor = (label: string, ours: number | undefined, reference: number | undefined) =>
    rows.push([label, fmt(ours, 1), fmt(reference, 1), ratio(ours, reference)])
  for (const [name, r] of Object.entries(results)) {
    const p = profiles[name as ProfileName]
    const tag = `${name} ${p.leaseDuration}/${p.renewDeadline}/${p.retryPeriod}`
    if (r.graceful) {
      const [o, g] = [r.graceful.ours.stats["fromSignalMs"], r.graceful["client-go"].stats["fromSignalMs"]]
      row(`${tag}: graceful handover p50 (ms)`, o?.p50, g?.p50, 1)
      row(`${tag}: graceful handover p95 (ms)`, o?.p95, g?.p95, 1)
      row(`${tag}: graceful handover max (ms)`, o?.max, g?.max, 1)
      const stage = (key: string) => [r.graceful!.ours.stats[key], r.graceful!["client-go"].stats[key]] as const
      const [rv, ar] = [stage("releaseVisibleMs"), stage("afterReleaseMs")]
      row(`${tag}: graceful, stopped_leading -> release on watch p50 (ms)`, rv[0]?.p50, rv[1]?.p50, 1)
      row(`${tag}: graceful, release on watch -> next started p50 (ms)`, ar[0]?.p50, ar[1]?.p50, 1)
      vsFloor(`${tag}: graceful handover p50, ours vs floor (ms)`, o?.p50, floorHandover)
      vsFloor(`${tag}: graceful, release on watch -> next started p50, ours vs floor PUT (ms)`, ar[0]?.p50, floorPut)
    }
    if (r.warm) {
      const w = r.warm.stats
      vsFloor(
        `${tag}: warm handover p50 (SIGUSR2, both have led before), ours vs floor (ms)`,
        w["fromSignalMs"]?.p50,
        floorHandover
      )
      vsFloor(`${tag}: warm handover p95, ours vs floor (ms)`, w["fromSignalMs"]?.p95, floorHandover)
      vsFloor(
        `${tag}: warm, stopped_leading -> release on watch p50, ours vs floor watch (ms)`,
        w["releaseVisibleMs"]?.p50,
        floorWatch
      )
      vsFloor(
        `${tag}: warm, release on watch -> next started p50, ours vs floor PUT (ms)`,
        w["afterReleaseMs"]?.p50,
        floorPut
      )
    }
    if (r.crash) {
      const [o, g] = [r.crash.ours.stats["excessMs"], r.crash["client-go"].stats["excessMs"]]
      row(`${tag}: crash failover excess p50 (ms)`, o?.p50, g?.p50, 1)
      row(`${tag}: crash failover excess p95 (ms)`, o?.p95, g?.p95, 1)
      row(`${tag}: crash failover excess max (ms)`, o?.max, g?.max, 1)
      const [ok, gk] = [r.crash.ours.stats["fromSignalMs"], r.crash["client-go"].stats["fromSignalMs"]]
      row(`${tag}: crash failover from SIGKILL p50 (ms)`, ok?.p50, gk?.p50)
      vsFloor(`${tag}: crash failover excess p95, ours vs floor PUT (ms)`, o?.p95, floorPut)
    }
    if (r.load) {
      const [o, g] = [r.load.ours, r.load["client-go"]]
      row(`${tag}: leader requests/min (leases)`, total(o.leaderPerMin), total(g.leaderPerMin), 1)
      row(`${tag}: leader GET/min (renew path)`, verbRate(o.leaderPerMin, "GET"), verbRate(g.leaderPerMin, "GET"), 1)
      row(`${tag}: follower requests/min (leases)`, total(o.followerPerMin), total(g.followerPerMin), 1)
      row(`${tag}: leader + follower requests/min`, total(o.pairPerMin), total(g.pairPerMin), 1)
      if (o.openWatches && g.openWatches) {
        row(`${tag}: leader + follower open Lease watches`, o.openWatches.pair, g.openWatches.pair)
      }
      if (selected("cost") && o.cost && g.cost) {
        row(`${tag}: leader RSS (MiB)`, o.cost.leader.rssMiB, g.cost.leader.rssMiB, 1)
        row(`${tag}: follower RSS (MiB)`, o.cost.follower.rssMiB, g.cost.follower.rssMiB, 1)
        row(`${tag}: leader CPU s in window`, o.cost.leader.cpuSecondsInWindow, g.cost.leader.cpuSecondsInWindow, 2)
        row(
          `${tag}: follower CPU s in window`,
          o.cost.follower.cpuSecondsInWindow,
          g.cost.follower.cpuSecondsInWindow,
          2
        )
        row(`${tag}: leader CPU s total (incl. start)`, o.cost.leader.cpuSeconds, g.cost.leader.cpuSeconds, 2)
        // Per write of the leader (a renew), which the follower receives as one watch event (client-go: one poll).
        const perWrite = (result: LoadResult, cpuSeconds: number) => {
          const writes = verbRate(result.leaderPerMin, "PUT") * result.windowSeconds / 60
          return writes > 0 ? cpuSeconds * 1000 / writes : undefined
        }
        row(
          `${tag}: leader CPU per renew (ms)`,
          perWrite(o, o.cost.leader.cpuSecondsInWindow),
          perWrite(g, g.cost.leader.cpuSecondsInWindow),
          2
        )
        row(
          `${tag}: follower CPU per leader write (ms) [ours: one watch event]`,
          perWrite(o, o.cost.follower.cpuSecondsInWindow),
          perWrite(g, g.cost.follower.cpuSecondsInWindow),
          2
        )
      }
    }
    if (r.scale) {
      const [o, g] = [r.scale.ours, r.scale["client-go"]]
      row(`${tag}: ${o.count} candidates requests/min`, total(o.totalPerMin), total(g.totalPerMin), 1)
      if (o.openWatches !== undefined && g.openWatches !== undefined) {
        row(`${tag}: ${o.count} candidates open Lease watches`, o.openWatches, g.openWatches)
      }
      if (r.load) {
        const [o2, g2] = [total(r.load.ours.pairPerMin), total(r.load["client-go"].pairPerMin)]
        rows.push([
          `${tag}: ${o.count} vs 2 candidates request rate`,
          ratio(total(o.totalPerMin), o2),
          ratio(total(g.totalPerMin), g2),
          "-"
        ])
      }
      row(
        `${tag}: ${o.count} candidates first leader from ready (ms)`,
        o.firstLeaderFromReadyMs,
        g.firstLeaderFromReadyMs
      )
      row(
        `${tag}: ${o.count} candidates first leader from spawn (ms)`,
        o.firstLeaderFromSpawnMs,
        g.firstLeaderFromSpawnMs
      )
      if (selected("cost")) {
        row(`${tag}: ${o.count} candidates avg RSS (MiB)`, o.avgRssMiB, g.avgRssMiB, 1)
        row(`${tag}: ${o.count} candidates avg CPU s in window`, o.avgCpuSecondsInWindow, g.avgCpuSecondsInWindow, 2)
      }
    }
  }
  if (lfl) {
    const [w, s] = [lfl.watch.stats, lfl.scheduleOnly.stats]
    const label = "leader for life: Pod deleted -> next leader"
    row(`${label} p50 (ms) [ours watch vs schedule only]`, w?.p50, s?.p50)
    row(`${label} p95 (ms) [ours watch vs schedule only]`, w?.p95, s?.p95)
    row(`${label} max (ms) [ours watch vs schedule only]`, w?.max, s?.max)
    row(`${label} p50 (ms) [ours watch vs model: zio-k8s schedule]`, w?.p50, lfl.model.zio.p50)
    row(`${label} p95 (ms) [ours watch vs model: zio-k8s schedule]`, w?.p95, lfl.model.zio.p95)
    row(`${label} p50 (ms) [ours watch vs model: operator-lib schedule]`, w?.p50, lfl.model.operatorLib.p50)
    row(`${label} p95 (ms) [ours watch vs model: operator-lib schedule]`, w?.p95, lfl.model.operatorLib.p95)
  }
  return rows
}

const renderTable = (rows: Array<[string, string, string, string]>, markdown: boolean) => {
  const header: [string, string, string, string] = ["metric", "ours", "client-go / reference", "ratio"]
  if (markdown) {
    return [
      `| ${header.join(" | ")} |`,
      "| --- | ---: | ---: | ---: |",
      ...rows.map((r) => `| ${r.join(" | ")} |`)
    ].join("\n")
  }
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)))
  const line = (r: Array<string>) =>
    r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ")
  return [line(header), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)].join("\n")
}

const evaluateTargets = (
  results: Record<string, ProfileResults>,
  context: {
    readonly steadySeconds: number
    readonly loadAverage: ReadonlyArray<number>
    readonly floor?: FloorResult | undefined
  }
): Array<Target> => {
  const out: Array<Target> = []
  const floorPut = context.floor?.putMs?.p50
  /** The targets near the physical floor (issue 11), for the cold and the warm handovers. */
  const nearFloor = (profile: string, kind: "cold" | "warm", result: HandoverResult) => {
    const [s, after] = [result.stats["fromSignalMs"], result.stats["afterReleaseMs"]]
    const within = (value: number | undefined, bound: number) => value === undefined ? undefined : value <= bound
    out.push({
      target: `${kind} graceful handover p50 <= 10 ms and p95 <= 20 ms`,
      profile,
      value: `p50 ${fmt(s?.p50, 1)} ms, p95 ${fmt(s?.p95, 1)} ms`,
      met: s === undefined ? undefined : s.p50 <= 10 && s.p95 <= 20,
      reason: `stopped_leading -> release seen ${fmt(result.stats["releaseVisibleMs"]?.p50, 1)} ms, release seen -> ` +
        `started ${fmt(after?.p50, 1)} ms (p50); the floor of a handover here is ${
          fmt((context.floor?.watchMs?.p50 ?? Number.NaN) + (floorPut ?? Number.NaN), 1)
        } ms`
    })
    out.push({
      target: `${kind}: release seen -> next started_leading p50 <= floor PUT + 2 ms`,
      profile,
      value: `${fmt(after?.p50, 1)} ms (floor PUT ${fmt(floorPut, 1)} ms)`,
      met: floorPut === undefined ? undefined : within(after?.p50, floorPut + 2),
      reason: "the follower's watch event, its wake-up and its acquiring PUT"
    })
  }
  const busy = context.loadAverage[0]! > 0.5
    ? `; the machine was busy (load average ${
      context.loadAverage[0]!.toFixed(1)
    } on ${os.cpus().length} cores at the start), and every step is a Node process that has to be scheduled`
    : ""
  const median = (values: Array<number>) => stats(values)?.p50
  for (const [name, r] of Object.entries(results)) {
    if (r.graceful) {
      const trials = r.graceful.ours.trials
      const split = `median split: SIGTERM -> stopped_leading ${
        fmt(median(trials.flatMap((t) => t.fromStopMs === undefined ? [] : [t.fromSignalMs - t.fromStopMs])), 1)
      } ms, stopped_leading -> release seen on a watch ${
        fmt(median(trials.flatMap((t) => t.releaseVisibleMs ?? [])), 1)
      } ms, release seen -> follower's started_leading ${
        fmt(median(trials.flatMap((t) => t.afterReleaseMs ?? [])), 1)
      } ms${busy}`
      const s = r.graceful.ours.stats["fromSignalMs"]
      const go = r.graceful["client-go"].stats["fromSignalMs"]
      out.push({
        target: "graceful handover p50 <= 50 ms",
        profile: name,
        value: `${fmt(s?.p50, 1)} ms (client-go ${fmt(go?.p50, 1)} ms)`,
        met: s === undefined ? undefined : s.p50 <= 50,
        reason: s === undefined
          ? "no trials"
          : s.p50 <= 50
          ? `the follower's watch sees the release and it writes at once (${split})`
          : split
      })
      out.push({
        target: "graceful handover p95 <= 250 ms",
        profile: name,
        value: `${fmt(s?.p95, 1)} ms (client-go ${fmt(go?.p95, 1)} ms)`,
        met: s === undefined ? undefined : s.p95 <= 250,
        reason: s === undefined
          ? "no trials"
          : s.p95 <= 250
          ? "watch-driven takeover"
          : `max ${fmt(s.max, 1)} ms; ${split}`
      })
    }
    if (r.graceful) nearFloor(name, "cold", r.graceful.ours)
    if (r.warm) nearFloor(name, "warm", r.warm)
    if (r.crash) {
      const excess = r.crash.ours.stats["excessMs"]
      out.push({
        target: "crash failover excess p95 <= 30 ms",
        profile: name,
        value: `${fmt(excess?.p95, 1)} ms`,
        met: excess === undefined ? undefined : excess.p95 <= 30,
        reason: `p50 ${fmt(excess?.p50, 1)} ms; includes the follower's acquiring PUT (floor ${fmt(floorPut, 1)} ms)`
      })
    }
    if (r.load?.ours.cost) {
      const { follower, leader } = r.load.ours.cost
      const writes = verbRate(r.load.ours.leaderPerMin, "PUT") * r.load.ours.windowSeconds / 60
      const perEvent = writes > 0 ? follower.cpuSecondsInWindow * 1000 / writes : undefined
      out.push({
        target: "follower CPU <= 0.5 ms per watch event",
        profile: name,
        value: `${fmt(perEvent, 2)} ms`,
        met: perEvent === undefined ? undefined : perEvent <= 0.5,
        reason: `${fmt(follower.cpuSecondsInWindow, 2)} CPU s over ${fmt(writes)} renews of the leader; the leader: ${
          fmt(writes > 0 ? leader.cpuSecondsInWindow * 1000 / writes : undefined, 2)
        } ms per renew`
      })
      out.push({
        target: "RSS of a running Lease candidate <= 120 MiB",
        profile: name,
        value: `leader ${fmt(leader.rssMiB, 1)} MiB, follower ${fmt(follower.rssMiB, 1)} MiB`,
        met: Math.max(leader.rssMiB, follower.rssMiB) <= 120,
        reason: "the kubeconfig read without client-node, @effect/platform by module (see Memory)"
      })
    }
    if (r.crash) {
      const s = r.crash.ours.stats["excessMs"]
      out.push({
        target: "crash failover excess <= 250 ms at p95",
        profile: name,
        value: `${fmt(s?.p95, 1)} ms (client-go ${fmt(r.crash["client-go"].stats["excessMs"]?.p95, 1)} ms)`,
        met: s === undefined ? undefined : s.p95 <= 250,
        reason: s === undefined
          ? "no trials"
          : s.p95 <= 250
          ? "the follower times the expiry from the last renew its watch saw, and wakes exactly then"
          : `p50 ${fmt(s.p50, 1)} ms, max ${fmt(s.max, 1)} ms${busy}`
      })
    }
    if (r.load) {
      const follower = total(r.load.ours.followerPerMin)
      out.push({
        target: "a follower <= 2 requests per minute at steady state",
        profile: name,
        value: `${fmt(follower, 2)}/min (client-go ${fmt(total(r.load["client-go"].followerPerMin), 1)}/min)`,
        met: follower <= 2,
        reason: follower <= 2
          ? "a follower only watches (a watch is one long request)"
          : `by verb: ${JSON.stringify(r.load.ours.followerPerMin)}`
      })
      const get = verbRate(r.load.ours.leaderPerMin, "GET")
      out.push({
        target: "no GET on the leader's renew path",
        profile: name,
        value: `${fmt(get, 2)} GET/min`,
        // The baseline subtraction leaves a rounding noise of about one request per window.
        met: get <= 60 / context.steadySeconds + 1e-9,
        reason: get <= 60 / context.steadySeconds + 1e-9
          ? "renews update from the cached Lease (GET only after a failed update)"
          : `GETs in the leader-alone window: ${JSON.stringify(r.load.ours.leaderPerMin)}`
      })
    }
    if (r.scale && r.load) {
      const [n, two] = [total(r.scale.ours.totalPerMin), total(r.load.ours.pairPerMin)]
      const ratioValue = two > 0 ? n / two : Number.NaN
      out.push({
        target: `${r.scale.ours.count} candidates cost at most 1.5x the request rate of two`,
        profile: name,
        value: `${fmt(n, 1)}/min vs ${fmt(two, 1)}/min = ${fmt(ratioValue, 2)}x (client-go ${
          ratio(total(r.scale["client-go"].totalPerMin), total(r.load["client-go"].pairPerMin))
        })`,
        met: Number.isNaN(ratioValue) ? undefined : ratioValue <= 1.5,
        reason: ratioValue <= 1.5
          ? "followers add watches, not requests"
          : `by verb: ${JSON.stringify(r.scale.ours.totalPerMin)}`
      })
    }
  }
  return out
}

const machine = () => {
  const sh = (cmd: string, args: Array<string>) => {
    try {
      return execFileSync(cmd, args, { stdio: ["ignore", "pipe", "ignore"] }).toString().trim()
    } catch {
      return "n/a"
    }
  }
  const goMod = readFileSync(path.join(repoRoot, "tools/go.mod"), "utf8")
  return {
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? "n/a",
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    loadAverageAtStart: os.loadavg(),
    kernel: os.release(),
    node: process.version,
    go: sh("go", ["version"]),
    clientGo: /k8s\.io\/client-go (v\S+)/.exec(goMod)?.[1] ?? "n/a",
    kubernetes: "v1.36.3 (kube-apiserver, kube-controller-manager), etcd v3.6.8"
  }
}

const renderDocs = (
  report: Record<string, any>,
  rows: Array<[string, string, string, string]>,
  targets: Array<Target>
) => {
  const m = report["machine"]
  const s = report["settings"]
  const mark = (t: Target) => (t.met === undefined ? "not measured" : t.met ? "met" : "**missed**")
  return `# Benchmarks

\`npm run bench\` (bench/run.ts) starts a local control plane (etcd, kube-apiserver, the garbage collector:
testkit/controlPlane.ts), runs our candidate (testkit/candidate.ts) as users run the library, the built \`dist/\` on
plain node (testkit/buildCandidate.ts), and client-go's (tools/candidate, \`tools/leaderelection\` with a LeaseLock and
ReleaseOnCancel) with the same settings, measures the floor of this API server in the same run (bench/floor.ts),
prints the table below and writes the raw numbers to \`bench/results/latest.json\` (\`--keep\` also to a timestamped
file).

\`\`\`sh
npm run bench                      # full: 20 trials, 120 s steady state, both profiles, 50 candidates
npm run bench -- --quick           # smoke run: 3 trials, 20 s steady state, 10 candidates
npm run bench -- --profile fast --only graceful,crash --trials 50
\`\`\`

Flags: \`--trials N\`, \`--steady SECONDS\`, \`--profile default|fast|both\`,
\`--only graceful,warm,crash,lfl,load,scale,cost,memory\`,
\`--quick\`, \`--scale N\` (candidates in the scale run), \`--parallel N\` (crash-failover trial chains per implementation, default 1),
\`--lfl-trials N\` (schedule-only leader-for-life trials), \`--no-docs\` (leave this file alone),
\`--render FILE\` (rewrite this file and print the table from a results file, without running anything),
\`--merge OTHER\` (with \`--render\`: the phases measured in OTHER replace those of FILE; writes \`latest.json\`),
\`--keep\` (also write the results to \`bench/results/<timestamp>.json\`).

## Latest run

${report["mode"]} run of ${report["finishedAt"]}, ${fmt(report["durationSeconds"])} s wall time.
Machine: ${m.cpus} cores (${m.cpuModel}), ${m.memoryGiB} GiB RAM, Linux ${m.kernel}, Node ${m.node},
${m.go}, client-go ${m.clientGo}, Kubernetes ${m.kubernetes}. Load average at the start: ${
    (m.loadAverageAtStart as Array<number>).map((x) => x.toFixed(2)).join(", ")
  }.
${
    (report["merged"] ?? []).map((m: any) =>
      `Merged: ${m.replaced.join(", ")} from the run of ${m.finishedAt} (${m.from}, ${
        fmt(m.durationSeconds)
      } s, load average at its start ${m.loadAverageAtStart[0].toFixed(2)}).\n`
    ).join("")
  }Settings: ${s.trials} trials per handover measure, ${s.steadySeconds} s steady windows (scale: ${
    Math.max(10, Math.round(s.steadySeconds / 2))
  } s), ${s.scaleCount} candidates in the scale run, ${s.parallel} trial chain(s) per implementation, profiles ${
    (s.profiles as Array<string>).join(" and ")
  }.
${
    report["concurrentWork"]
      ? "\n> This run shared a 2-core machine with other work: latencies and CPU seconds are noisy; re-run on a quiet machine.\n"
      : ""
  }
${renderTable(rows, true)}

Ratios are ours / client-go, ours / the floor, or ours / the schedule-only reference. Request rates are per minute, from
\`apiserver_request_total\` (resource \`leases\`), with the control plane's own Lease traffic (measured in a window
with no candidate) subtracted.

${
    report["memory"] === undefined ? "" : `## Memory: what each part of a candidate costs

A fresh node process imports the parts one after the other (bench/memory.ts, \\\`tsx bench/memory.ts\\\`) and reports
its VmRSS after each, median of three; a running candidate (the cost rows above) also holds its heap. The
alternatives are what the library no longer loads.

| part | MiB | cumulative MiB |
| --- | ---: | ---: |
${
      [...report["memory"].rows, ...report["memory"].alternatives].map((row: any) =>
        `| ${row.part} | ${row.partMiB.toFixed(1)} | ${row.cumulativeMiB.toFixed(1)} |`
      ).join("\n")
    }

`
  }## Targets (ours)

| target | profile | measured | status | why |
| --- | --- | --- | --- | --- |
${targets.map((t) => `| ${t.target} | ${t.profile} | ${t.value} | ${mark(t)} | ${t.reason} |`).join("\n")}

## Notes

- Every number of ours is for our candidate as users run the library: the built \`dist/\` on plain node (its own
  few lines bundled by esbuild), no TypeScript loader; client-go's candidate is a static Go binary. The CPU seconds
  *in the window* are the steady-state cost.
- Our candidate holds one Lease watch, shared by its election and its \`leaderChanges\` subscriber (which feeds its
  \`new_leader\` lines). Watches are not requests, so they do not show in the request rates, but every renew is sent
  down every open watch: the "open Lease watches" rows show that cost, which grows with the number of candidates
  where client-go's grows in polls.
- **The floor** (bench/floor.ts): a bare Node client with a kept-alive \`https.Agent\` PUTs a Lease 60 times; a watch
  on another connection times each event. A graceful handover cannot beat the release's event plus the next PUT;
  a follower that saw the release, one PUT; a crash takeover past the expiry, one PUT.
- **Cold and warm**: the graceful rows are cold, the first acquisition of a fresh follower process (its code runs for
  the first time); the warm rows hand over between two processes that have both led before (SIGUSR2: the leader
  releases and enters the election again once the other leads, \`--step-down-on-usr2\`).
- client-go's follower polls with a GET every retryPeriod x U(1, 2.2); a graceful handover waits for its next poll
  after the release, and after a crash it times the expiry from the poll that saw the last renew, so its excess is
  up to two polls. Ours watches: it sees the release, or times the expiry from the renew itself.
- Time to the first leader "from spawn" is dominated by N processes starting at once on the machine's cores (Node
  and tsx for ours); "from ready" is the election, though still slowed while the other candidates start.
- Latencies of a few tens of milliseconds are sensitive to CPU contention: every step (the signal, the release, the
  watch event, the follower's write) needs a process to be scheduled. Compare runs on a quiet machine.

## Method

- **Graceful handover**: the holder gets SIGTERM and releases (holder "" and leaseDurationSeconds 1); measured from the
  signal to the follower's \`started_leading\` (CLOCK_MONOTONIC on both sides). The follower is started fresh each
  trial and the signal comes after it has seen the leader plus a random delay U(0.5 s, 0.5 s + 2.2 x retryPeriod),
  so the signal falls at a random phase of the leader's renew cycle and of client-go's poll. Same-implementation
  pairs; the follower of one trial is the holder of the next.
- **Crash failover**: the holder gets SIGKILL at a random moment U(0, 1.2 x retryPeriod) after its first renew
  that follows the follower's first look at the Lease (until then a follower can only count from its first look,
  however old the record: that is the protocol, not a delay of the implementation). The bench watches the Leases itself and records when each write of the
  holder arrived; the excess is \`started_leading - (last write of the dead holder seen on the watch + leaseDuration)\`,
  i.e. how late after the earliest safe moment the follower took over. "From SIGKILL" is the raw time from the kill.
- **Leader for life**: ours with \`--lock configmap\`; the holder is SIGKILLed (no release) and its Pod deleted at once;
  measured from the Pod's DELETE to the next holder's \`started_leading\`, which needs the garbage collector to delete
  the ConfigMap and the follower to see it. "Schedule only" runs bench/lflCandidate.ts: our candidate with the
  ConfigMap and Pod watches disabled (the services' \`watch\` never emits), so the follower wakes only on the default
  retry schedule (1, 2, 4, 8, 16, 30, 30 ... s, jittered), as zio-k8s and operator-lib do; its follower waited
  U(${s.lflWait[0]} s, ${s.lflWait[1]} s) before the delete. The model rows draw 100 000 freeing moments
  (${
    report["lfl"]?.model.assumption ?? "-"
  }) for zio-k8s' schedule and operator-lib's (1 s doubling to 16 s, jitter 0.2).
  Leader for life does not depend on the Lease profile, so it is measured once.
- **API load**: one candidate leads alone for a window, then a follower joins for a second window;
  \`apiserver_request_total\` is sampled before and after each. Leader = first window; follower = second minus first.
  A watch is counted only when it ends, so a steady watch costs nothing here (ours: one per candidate).
- **Scale**: N candidates of one implementation on one Lease; first leader measured from the spawn of all and from
  the first candidate's \`ready\`; the request rate over a window after all have seen the leader, compared with the
  leader + follower rate of the load run.
- **Cost**: VmRSS and utime + stime from /proc of each candidate process at the end of its window (with any child
  processes; the CPU seconds in the window exclude start-up). Per renew and per leader write: the CPU seconds in
  the window over the leader's PUTs in it (\`apiserver_request_total\`); a follower of ours receives each as one
  watch event, a follower of client-go polls instead.
- The two implementations' handover chains run at the same time on different Leases; the load and scale windows run
  one implementation at a time (the API server's counters are global).
`
}

// ---------------------------------------------------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------------------------------------------------

/** Writes docs/benchmarks.md, formatted as the repository formats Markdown (so `fmt:check` stays green). */
const writeDocs = (markdown: string) => {
  const file = path.join(repoRoot, "docs/benchmarks.md")
  writeFileSync(file, markdown)
  execFileSync(path.join(repoRoot, "scripts/dprint.sh"), ["fmt", file], { stdio: "ignore" })
}

/** `--render FILE`: the table and docs/benchmarks.md again from a results file, without running anything. */
const render = (file: string) => {
  const report = JSON.parse(readFileSync(file, "utf8"))
  if (flags.merge !== undefined) {
    // `--merge OTHER`: the phases measured in OTHER replace the same phases of FILE (e.g. a re-run of one phase).
    const other = JSON.parse(readFileSync(flags.merge, "utf8"))
    const replaced: Array<string> = []
    for (const [profile, phasesOfOther] of Object.entries(other.results as Record<string, ProfileResults>)) {
      for (const [phase, value] of Object.entries(phasesOfOther)) {
        report.results[profile] = { ...report.results[profile], [phase]: value }
        replaced.push(`${profile} ${phase}`)
      }
    }
    if (other.lfl !== undefined) {
      report.lfl = other.lfl
      replaced.push("lfl")
    }
    report.merged = [...(report.merged ?? []), {
      from: path.basename(flags.merge),
      finishedAt: other.finishedAt,
      durationSeconds: other.durationSeconds,
      settings: other.settings,
      loadAverageAtStart: other.machine.loadAverageAtStart,
      replaced
    }]
    const json = JSON.stringify(report, null, 2) + "\n"
    const dir = path.join(repoRoot, "bench/results")
    if (flags.keep) {
      writeFileSync(path.join(dir, `${new Date().toISOString().replace(/[:.]/g, "-")}-merged.json`), json)
    }
    writeFileSync(path.join(dir, "latest.json"), json)
  }
  const rows = buildTable(report.results, report.lfl, report.floor)
  const targets = evaluateTargets(report.results, {
    steadySeconds: report.settings.steadySeconds,
    loadAverage: report.machine.loadAverageAtStart,
    floor: report.floor
  })
  writeDocs(renderDocs({ ...report, table: rows, targets }, rows, targets))
  printSummary(rows, targets, report.durationSeconds)
}

const printSummary = (rows: Array<[string, string, string, string]>, targets: Array<Target>, seconds: number) => {
  process.stdout.write(`\n${renderTable(rows, false)}\n\n`)
  for (const t of targets) {
    process.stdout.write(
      `${t.met === undefined ? "n/a   " : t.met ? "met   " : "MISSED"} ${t.profile.padEnd(8)} ${t.target}: ${t.value}\n`
    )
  }
  process.stdout.write(`\nbench finished in ${seconds.toFixed(0)} s; raw numbers in bench/results/latest.json\n`)
}

const main = async () => {
  if (flags.render !== undefined) return render(flags.render)
  const started = Date.now()
  log(`settings: ${JSON.stringify(settings)}`)
  await ensureBinaries({ log })
  // Ours runs as users run it: the built library (dist/) on plain node.
  await buildCandidate()
  const loadBefore = os.loadavg()
  cp = await startControlPlane({ log: (line) => log(`control plane: ${line}`) })
  const results: Record<string, ProfileResults> = {}
  let lfl: LflResult | undefined
  let floor: FloorResult | undefined
  const memory = selected("memory") ? measureMemory() : undefined
  try {
    log("floor: a bare kept-alive client's Lease PUTs and their watch events")
    floor = await measureFloor(cp.adminKubeconfig)
    const needsBaseline = selected("load") || selected("scale") || selected("cost")
    const baseline = needsBaseline ? await measureBaseline(settings.steadySeconds) : {}
    for (const name of settings.profiles) {
      const profile = profiles[name]
      const r: ProfileResults = {}
      results[name] = r
      if (selected("graceful")) {
        log(`graceful handover, ${name}`)
        r.graceful = await handover("graceful", profile)
      }
      if (selected("warm")) {
        log(`warm handover, ${name}`)
        r.warm = await warmHandover(profile)
      }
      if (selected("crash")) {
        log(`crash failover, ${name}`)
        r.crash = await handover("crash", profile)
      }
      if (selected("load") || selected("cost") || selected("scale")) {
        const load: Partial<Record<Impl, LoadResult>> = {}
        for (const impl of impls) load[impl] = await measureLoad(impl, profile, baseline)
        r.load = load as Record<Impl, LoadResult>
      }
      if (selected("scale")) {
        const scale: Partial<Record<Impl, ScaleResult>> = {}
        for (const impl of impls) scale[impl] = await measureScale(impl, profile, baseline)
        r.scale = scale as Record<Impl, ScaleResult>
      }
    }
    if (selected("lfl")) {
      log("leader for life")
      const [watch, scheduleOnly] = [await lflWatch(), await lflScheduleOnly()]
      lfl = { watch, scheduleOnly, model: modelSchedules() }
    }
  } finally {
    await cp.stop({ clean: true })
    agent.destroy()
  }
  const durationSeconds = (Date.now() - started) / 1000
  const rows = buildTable(results, lfl, floor)
  const targets = evaluateTargets(results, { steadySeconds: settings.steadySeconds, loadAverage: loadBefore, floor })
  const report = {
    mode: quick ? "quick" : "full",
    finishedAt: new Date().toISOString(),
    durationSeconds,
    machine: { ...machine(), loadAverageAtStart: loadBefore },
    concurrentWork: loadBefore[0]! > 0.5,
    settings,
    results,
    lfl,
    floor,
    memory,
    table: rows,
    targets
  }
  const dir = path.join(repoRoot, "bench/results")
  mkdirSync(dir, { recursive: true })
  const json = JSON.stringify(report, null, 2) + "\n"
  if (flags.keep) writeFileSync(path.join(dir, `${report.finishedAt.replace(/[:.]/g, "-")}.json`), json)
  writeFileSync(path.join(dir, "latest.json"), json)
  if (!flags["no-docs"]) writeDocs(renderDocs(report, rows, targets))
  process.stdout.write(`\n${renderTable(rows, false)}\n\n`)
  for (const t of targets) {
    process.stdout.write(
      `${t.met === undefined ? "n/a   " : t.met ? "met   " : "MISSED"} ${t.profile.padEnd(8)} ${t.target}: ${t.value}\n`
    )
  }
  process.stdout.write(
    `\nbench finished in ${durationSeconds.toFixed(0)} s; raw numbers in bench/results/latest.json\n`
  )
}

main().then(
  () => process.exit(0),
  (error) => {
    process.stderr.write(`bench failed: ${(error as Error).stack ?? String(error)}\n`)
    process.exit(1)
  }
)
