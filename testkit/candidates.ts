/**
 * Candidate processes, ours (testkit/candidate.ts on Effect 3 and effect4/testkit/candidate.ts on Effect 4, built on
 * dist/ by testkit/buildCandidate.ts) and client-go's (tools/candidate), with their JSON event lines: what the
 * integration suites and the bench start.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process"
import * as path from "node:path"
import { createInterface } from "node:readline"
import { fileURLToPath } from "node:url"
import { builtCandidate, builtCandidateEffect4 } from "./buildCandidate.js"
import { ensureBinaries } from "./controlPlane.js"

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")

export interface CandidateEvent {
  readonly event: "ready" | "started_leading" | "stopped_leading" | "new_leader" | "error"
  readonly identity: string
  readonly leader: string
  readonly mono_ns: number
  readonly wall: string
}

export interface Candidate {
  readonly identity: string
  readonly events: ReadonlyArray<CandidateEvent>
  readonly process: ChildProcess
  readonly waitFor: (
    predicate: (event: CandidateEvent) => boolean,
    timeoutMs?: number
  ) => Promise<CandidateEvent>
  readonly exited: Promise<number | null>
  readonly output: () => string
}

export interface CandidateOptions {
  readonly impl: "ours" | "client-go"
  /**
   * Ours: the edition of Effect, 3 (testkit/candidate.ts, on the Node that runs the tests) or 4
   * (effect4/testkit/candidate.ts, on Node 24). Default: `CANDIDATE_EDITION` of the environment, else 3, so that a
   * suite runs against either edition unchanged.
   */
  readonly edition?: Edition
  readonly kubeconfig: string
  readonly name: string
  readonly identity: string
  readonly namespace?: string
  readonly lock?: "lease" | "configmap" | "leaderlock"
  /** Go durations, e.g. "2s". */
  readonly leaseDuration?: string
  readonly renewDeadline?: string
  readonly retryPeriod?: string
  readonly repeat?: boolean
  /** Ours: SIGUSR2 makes a leader release and enter the election again (testkit/candidate.ts). */
  readonly stepDownOnUsr2?: boolean
  /** Ours: node's own options (e.g. `--cpu-prof` to profile it). */
  readonly nodeArgs?: ReadonlyArray<string>
}

export type Edition = 3 | 4

/** The edition of our candidates when a suite does not choose one: `CANDIDATE_EDITION` (3 or 4), else 3. */
export const defaultEdition: Edition = (() => {
  const value = process.env["CANDIDATE_EDITION"] ?? "3"
  if (value !== "3" && value !== "4") throw new Error(`CANDIDATE_EDITION must be 3 or 4, not "${value}"`)
  return value === "4" ? 4 : 3
})()

let node24: string | undefined
/** Node 24 (scripts/node24.sh installs it from the npm registry, cached): the Effect 4 edition's runtime here. */
export const node24Path = (): string =>
  node24 ??= execFileSync(path.join(repoRoot, "scripts/node24.sh"), { encoding: "utf8" }).trim()

/** The fast profile the suites use so that expiries take seconds: 2 s / 1.5 s / 0.5 s. */
export const fast = { leaseDuration: "2s", renewDeadline: "1500ms", retryPeriod: "500ms" } as const

const running = new Set<ChildProcess>()
process.on("exit", () => {
  for (const child of running) child.kill("SIGKILL")
})

/** Starts a candidate process and collects its event lines. */
export const spawnCandidate = async (options: CandidateOptions): Promise<Candidate> => {
  const durations = [
    "--lease-duration",
    options.leaseDuration ?? fast.leaseDuration,
    "--renew-deadline",
    options.renewDeadline ?? fast.renewDeadline,
    "--retry-period",
    options.retryPeriod ?? fast.retryPeriod
  ]
  const common = [
    "--kubeconfig",
    options.kubeconfig,
    "--namespace",
    options.namespace ?? "default",
    "--identity",
    options.identity,
    ...durations
  ]
  const edition = options.edition ?? defaultEdition
  const child = options.impl === "ours"
    ? spawn(edition === 4 ? node24Path() : process.execPath, [
      ...(options.nodeArgs ?? []),
      // What users run: the built library on plain node (built by globalSetup.ts, see testkit/buildCandidate.ts).
      edition === 4 ? builtCandidateEffect4 : builtCandidate,
      ...common,
      "--name",
      options.name,
      "--lock",
      options.lock ?? "lease",
      ...(options.repeat ? ["--repeat"] : []),
      ...(options.stepDownOnUsr2 ? ["--step-down-on-usr2"] : [])
    ], { cwd: repoRoot, stdio: ["ignore", "pipe", "pipe"] })
    : spawn((await ensureBinaries({ log: () => {} })).candidate, [...common, "--lease-name", options.name], {
      stdio: ["ignore", "pipe", "pipe"]
    })
  running.add(child)
  const events: Array<CandidateEvent> = []
  const waiters = new Set<() => void>()
  let stderr = ""
  child.stderr!.on("data", (chunk) => {
    stderr += String(chunk)
  })
  createInterface({ input: child.stdout! }).on("line", (line) => {
    if (!line.startsWith("{")) return
    try {
      events.push(JSON.parse(line))
    } catch {
      return
    }
    for (const wake of waiters) wake()
  })
  const exited = new Promise<number | null>((resolve) =>
    child.on("exit", (code) => {
      running.delete(child)
      for (const wake of waiters) wake()
      resolve(code)
    })
  )
  const waitFor: Candidate["waitFor"] = (predicate, timeoutMs = 30_000) =>
    new Promise((resolve, reject) => {
      const check = () => {
        const found = events.find(predicate)
        if (found !== undefined) {
          cleanup()
          resolve(found)
        } else if (child.exitCode !== null || child.signalCode !== null) {
          cleanup()
          reject(new Error(`${options.identity} exited (${child.exitCode ?? child.signalCode}) first:\n${stderr}`))
        }
      }
      const timer = setTimeout(() => {
        cleanup()
        reject(new Error(`${options.identity}: timed out; events: ${JSON.stringify(events)}\n${stderr.slice(-3000)}`))
      }, timeoutMs)
      const cleanup = () => {
        clearTimeout(timer)
        waiters.delete(check)
      }
      waiters.add(check)
      check()
    })
  return { identity: options.identity, events, process: child, waitFor, exited, output: () => stderr }
}

/** The current monotonic time in ns, comparable with the candidates' `mono_ns`. */
export const monoNow = () => Number(process.hrtime.bigint())

/** SIGKILL, recording when, so that the victim's open interval ends there. */
export const kill = async (candidate: Candidate, signal: NodeJS.Signals) => {
  if (signal === "SIGKILL") (candidate as { killedAt?: number }).killedAt = monoNow()
  candidate.process.kill(signal)
  await candidate.exited
}
