/**
 * Graceful shutdown as a real process: examples/graceful-shutdown.ts leads a Lease on a real API server, a standby
 * (testkit/candidate.ts) waits; SIGTERM to the example interrupts its protected effect, releases the Lease and exits
 * 0, and the standby leads at once: far sooner than the 15 s lease duration it would otherwise wait out.
 */
import { Effect } from "effect"
import { type ChildProcess, spawn } from "node:child_process"
import * as path from "node:path"
import { createInterface } from "node:readline"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { Leases } from "../../src/index.js"
import { type Candidate, monoNow, spawnCandidate } from "../../testkit/candidates.js"
import type { ControlPlane } from "../../testkit/controlPlane.js"
import { repoRoot, run, startCluster, unique } from "./harness.js"

let cluster: ControlPlane
const children: Array<ChildProcess> = []
const candidates: Array<Candidate> = []

beforeAll(async () => {
  cluster = await startCluster()
})
afterAll(async () => {
  for (const child of children) child.kill("SIGKILL")
  for (const candidate of candidates) candidate.process.kill("SIGKILL")
  await cluster?.stop({ clean: true })
})

/** The defaults: a standby that missed the release would wait 15 s. */
const settings = { leaseDuration: "15s", renewDeadline: "10s", retryPeriod: "2s" } as const

interface Line {
  readonly text: string
  readonly monoNs: number
}

/** Starts the example as a real process (no npm, no tsx CLI in between: the signal goes to the program itself). */
const startExample = (name: string, identity: string) => {
  const child = spawn(process.execPath, [
    "--import",
    "tsx",
    path.join(repoRoot, "examples/graceful-shutdown.ts"),
    "--kubeconfig",
    cluster.adminKubeconfig,
    "--namespace",
    "default",
    "--identity",
    identity,
    "--name",
    name,
    "--lease-duration",
    settings.leaseDuration,
    "--renew-deadline",
    settings.renewDeadline,
    "--retry-period",
    settings.retryPeriod
  ], { cwd: repoRoot, stdio: ["ignore", "pipe", "pipe"] })
  children.push(child)
  const lines: Array<Line> = []
  let output = ""
  const waiters = new Set<() => void>()
  createInterface({ input: child.stdout! }).on("line", (text) => {
    output += `${text}\n`
    const match = /^graceful-shutdown: (.*) mono_ns=(\d+)$/.exec(text)
    if (match !== null) lines.push({ text: match[1]!, monoNs: Number(match[2]) })
    for (const wake of waiters) wake()
  })
  child.stderr!.on("data", (chunk) => {
    output += String(chunk)
  })
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)))
  const waitFor = (pattern: RegExp, timeoutMs = 30_000) =>
    new Promise<Line>((resolve, reject) => {
      const check = () => {
        const found = lines.find((line) => pattern.test(line.text))
        if (found !== undefined) {
          done()
          resolve(found)
        } else if (child.exitCode !== null) {
          done()
          reject(new Error(`the example exited (${child.exitCode}) before ${pattern}:\n${output}`))
        }
      }
      const timer = setTimeout(() => {
        done()
        reject(new Error(`timed out waiting for ${pattern}:\n${output}`))
      }, timeoutMs)
      const done = () => {
        clearTimeout(timer)
        waiters.delete(check)
      }
      waiters.add(check)
      check()
    })
  return { child, lines, waitFor, exited, output: () => output }
}

const ms = (ns: number) => ns / 1e6

describe("graceful shutdown (examples/graceful-shutdown.ts) on a real API server", () => {
  it("SIGTERM: the protected effect stops, the Lease is released, exit 0, the standby leads at once", async () => {
    const name = unique("shutdown")
    const example = startExample(name, "primary")
    await example.waitFor(/^leading as primary$/)

    const standby = await spawnCandidate({
      impl: "ours",
      kubeconfig: cluster.adminKubeconfig,
      name,
      identity: "standby",
      ...settings
    })
    candidates.push(standby)
    await standby.waitFor((e) => e.event === "new_leader" && e.leader === "primary")
    await new Promise((resolve) => setTimeout(resolve, 1000))
    expect(standby.events.some((e) => e.event === "started_leading")).toBe(false)

    const sigtermAt = monoNow()
    example.child.kill("SIGTERM")
    const code = await example.exited
    const exitedAt = monoNow()
    expect(code, example.output()).toBe(0)
    // Right after the exit, the Lease names no one (released) or already the standby.
    const lease = await run(cluster.adminKubeconfig, Effect.flatMap(Leases, (leases) => leases.get(name, "default")))
    expect(["", "standby"]).toContain(lease.spec?.holderIdentity ?? "")

    const standbyLeads = await standby.waitFor((e) => e.event === "started_leading", 20_000)
    const interrupted = example.lines.find((line) => line.text.startsWith("interrupted"))
    const released = example.lines.find((line) => line.text.startsWith("released the Lease"))
    expect(interrupted, example.output()).toBeDefined()
    expect(released, example.output()).toBeDefined()
    // The protected effect stops before the lock goes; the standby leads only after that.
    expect(interrupted!.monoNs).toBeLessThan(released!.monoNs)
    expect(standbyLeads.mono_ns).toBeGreaterThan(interrupted!.monoNs)

    const handoverMs = ms(standbyLeads.mono_ns - sigtermAt)
    console.log(
      `graceful shutdown: SIGTERM -> effect interrupted ${ms(interrupted!.monoNs - sigtermAt).toFixed(1)} ms, ` +
        `-> released ${ms(released!.monoNs - sigtermAt).toFixed(1)} ms, -> process exited ${
          ms(exitedAt - sigtermAt).toFixed(1)
        } ms, -> standby leads ${handoverMs.toFixed(1)} ms (lease duration 15000 ms)`
    )
    // At once: one watch event and one write after the release, far from the 15 s expiry.
    expect(handoverMs).toBeLessThan(2000)
    const after = await run(cluster.adminKubeconfig, Effect.flatMap(Leases, (leases) => leases.get(name, "default")))
    expect(after.spec?.holderIdentity).toBe("standby")
    expect(after.spec?.leaseTransitions).toBe(1)
  })
})
