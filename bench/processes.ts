/** Candidate processes as the bench runs them, and what they cost (/proc). */
import { type ChildProcess, execFileSync, spawn } from "node:child_process"
import { readdirSync, readFileSync } from "node:fs"
import * as path from "node:path"
import { createInterface } from "node:readline"
import { fileURLToPath } from "node:url"
import { type Candidate, type CandidateEvent, spawnCandidate } from "../testkit/candidates.js"
import { editionOf, type Impl, type Profile, sleep } from "./settings.js"

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")

const clockTicks = (() => {
  try {
    return Number(execFileSync("getconf", ["CLK_TCK"]).toString().trim()) || 100
  } catch {
    return 100
  }
})()

export interface ProcStats {
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
export const procStats = (pid: number | undefined): ProcStats | undefined => {
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

/**
 * How to start `impl`: client-go's candidate, or ours in the edition named, always explicit (else `spawnCandidate`
 * would follow `CANDIDATE_EDITION` of the environment).
 */
export const spawnOptions = (impl: Impl) =>
  impl === "client-go" ? { impl } as const : { impl: "ours", edition: editionOf(impl) } as const

/** A candidate of `impl` on `lease` with the Lease timings of `profile`. */
export const candidate = (
  kubeconfig: string,
  impl: Impl,
  profile: Profile,
  lease: string,
  identity: string,
  nodeArgs?: ReadonlyArray<string>
) =>
  spawnCandidate({
    ...spawnOptions(impl),
    kubeconfig,
    name: lease,
    identity,
    leaseDuration: profile.leaseDuration,
    renewDeadline: profile.renewDeadline,
    retryPeriod: profile.retryPeriod,
    ...(nodeArgs === undefined ? {} : { nodeArgs })
  })

export const isStarted = (e: CandidateEvent) => e.event === "started_leading"
export const sees = (leader: string) => (e: CandidateEvent) => e.event === "new_leader" && e.leader === leader

/** SIGTERM, then SIGKILL if it has not exited within `graceMs`. */
export const stop = async (c: Candidate, graceMs = 20_000) => {
  if (c.process.exitCode !== null || c.process.signalCode !== null) return
  c.process.kill("SIGTERM")
  const timer = setTimeout(() => c.process.kill("SIGKILL"), graceMs)
  await c.exited
  clearTimeout(timer)
}

/** Spawns the schedule-only leader-for-life candidate (bench/lflCandidate.ts), with the harness' event shape. */
export const spawnScheduleOnly = (kubeconfig: string, lock: string, identity: string): Candidate => {
  const child: ChildProcess = spawn(process.execPath, [
    "--import",
    "tsx",
    path.join(repoRoot, "bench/lflCandidate.ts"),
    "--kubeconfig",
    kubeconfig,
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
