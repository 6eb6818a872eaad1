/** Steady state: the control plane's own traffic (the baseline), then a leader alone and a leader with a follower. */
import type { Candidate } from "../../testkit/candidates.js"
import type { Bench } from "../context.js"
import { candidate, isStarted, procStats, sees, stop } from "../processes.js"
import { minus, ratePerMinute } from "../rates.js"
import { type Impl, log, type Profile, sleep, uid } from "../settings.js"

/** What the control plane does with no candidate: subtracted from every window. */
export interface Baseline {
  readonly perMinute: Record<string, number>
  /** The control plane's own open Lease watches. */
  readonly openLeaseWatches: number
}

export const measureBaseline = async (bench: Bench, seconds: number): Promise<Baseline> => {
  log(`baseline: ${seconds} s with no candidate`)
  const before = await bench.server.requestCounts()
  await sleep(seconds * 1000)
  const after = await bench.server.requestCounts()
  return {
    perMinute: ratePerMinute(before, after, seconds, ["leases", "configmaps", "pods"]),
    openLeaseWatches: await bench.server.openLeaseWatches()
  }
}

export interface LoadResult {
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

export const settleMs = (profile: Profile) => 3_000 + 2.2 * profile.retryMs

/** Leader alone for a window, then leader + follower for a window (leases only). */
export const measureLoad = async (
  bench: Bench,
  impl: Impl,
  profile: Profile,
  baseline: Baseline
): Promise<LoadResult> => {
  const lease = `bench-load-${impl}-${profile.name}-${uid()}`
  const seconds = bench.settings.steadySeconds
  const leader = await candidate(bench.cp.adminKubeconfig, impl, profile, lease, `${impl}-leader`)
  let follower: Candidate | undefined
  try {
    await leader.waitFor(isStarted, 60_000)
    await sleep(settleMs(profile))
    /** One steady window: the request counters around it, the open watches and the process's cost at both ends. */
    const steadyWindow = async (pid: number | undefined) => {
      const [p0, s0] = [procStats(pid), await bench.server.requestCounts()]
      await sleep(seconds * 1000)
      const [s1, watches, p1] = [
        await bench.server.requestCounts(),
        await bench.server.openLeaseWatches(),
        procStats(pid)
      ]
      return { perMinute: ratePerMinute(s0, s1, seconds, ["leases"]), watches, p0, p1 }
    }
    log(`load ${impl} ${profile.name}: leader alone for ${seconds} s`)
    const aloneWindow = await steadyWindow(leader.process.pid)
    follower = await candidate(bench.cp.adminKubeconfig, impl, profile, lease, `${impl}-follower`)
    await follower.waitFor(sees(leader.identity), 60_000)
    await sleep(settleMs(profile))
    log(`load ${impl} ${profile.name}: leader + follower for ${seconds} s`)
    const pairWindow = await steadyWindow(follower.process.pid)
    const [alone, pair] = [aloneWindow.perMinute, pairWindow.perMinute]
    const [l0, l1, f0, f1] = [aloneWindow.p0, aloneWindow.p1, pairWindow.p0, pairWindow.p1]
    const [w1, w3] = [aloneWindow.watches, pairWindow.watches]
    const leasesBaseline = Object.fromEntries(
      Object.entries(baseline.perMinute).filter(([k]) => k.startsWith("leases "))
    )
    if (leader.events.filter(isStarted).length !== 1 || follower.events.some(isStarted)) {
      throw new Error(`load ${impl}: leadership changed during the window`)
    }
    return {
      leaderPerMin: minus(alone, leasesBaseline),
      followerPerMin: minus(pair, alone),
      pairPerMin: minus(pair, leasesBaseline),
      openWatches: { leaderAlone: w1 - baseline.openLeaseWatches, pair: w3 - baseline.openLeaseWatches },
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
