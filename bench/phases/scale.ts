/** Many candidates of one implementation on one Lease: the first leader, the request rate, the watches, the cost. */
import { monoNow } from "../../testkit/candidates.js"
import { leadershipIntervals, overlaps } from "../../testkit/intervals.js"
import type { Bench } from "../context.js"
import { candidate, isStarted, procStats, stop } from "../processes.js"
import { minus, ratePerMinute } from "../rates.js"
import { type Impl, log, nsToMs, type Profile, sleep, uid } from "../settings.js"
import { type Baseline, settleMs } from "./load.js"

export interface ScaleResult {
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

export const measureScale = async (
  bench: Bench,
  impl: Impl,
  profile: Profile,
  baseline: Baseline
): Promise<ScaleResult> => {
  const lease = `bench-scale-${impl}-${profile.name}-${uid()}`
  const count = bench.settings.scaleCount
  const seconds = Math.max(10, Math.round(bench.settings.steadySeconds / 2))
  log(`scale ${impl} ${profile.name}: ${count} candidates`)
  const t0 = monoNow()
  const all = await Promise.all(
    Array.from({ length: count }, (_, i) => candidate(bench.cp.adminKubeconfig, impl, profile, lease, `${impl}-s${i}`))
  )
  try {
    const first = await Promise.any(all.map((c) => c.waitFor(isStarted, 300_000)))
    await Promise.all(all.map((c) => c.waitFor((e) => e.event === "ready", 300_000)))
    const readies = all.map((c) => c.events.find((e) => e.event === "ready")!.mono_ns)
    await Promise.all(all.map((c) => c.waitFor((e) => e.event === "new_leader" && e.leader !== "", 300_000)))
    await sleep(settleMs(profile) + 2_000)
    const p0 = all.map((c) => procStats(c.process.pid))
    const s0 = await bench.server.requestCounts()
    await sleep(seconds * 1000)
    const s1 = await bench.server.requestCounts()
    const w1 = await bench.server.openLeaseWatches()
    const p1 = all.map((c) => procStats(c.process.pid))
    const leasesBaseline = Object.fromEntries(
      Object.entries(baseline.perMinute).filter(([k]) => k.startsWith("leases "))
    )
    const intervals = leadershipIntervals(all)
    const avg = (values: Array<number>) => values.reduce((a, b) => a + b, 0) / Math.max(1, values.length)
    return {
      count,
      totalPerMin: minus(ratePerMinute(s0, s1, seconds, ["leases"]), leasesBaseline),
      openWatches: w1 - baseline.openLeaseWatches,
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
