/** The results of a run and the table that compares them: ours, client-go, the floor. */
import type { EventsResult } from "../phases/events.js"
import type { FloorResult } from "../phases/floor.js"
import type { HandoverResult } from "../phases/handover.js"
import type { LflResult } from "../phases/lfl.js"
import type { LoadResult } from "../phases/load.js"
import type { ScaleResult } from "../phases/scale.js"
import { total, verbRate } from "../rates.js"
import { type Impl, type ProfileName, profiles } from "../settings.js"

export interface ProfileResults {
  graceful?: Record<Impl, HandoverResult>
  /** Ours only: handovers between two processes that have both led before (SIGUSR2: release, enter again). */
  warm?: HandoverResult
  crash?: Record<Impl, HandoverResult>
  load?: Record<Impl, LoadResult>
  scale?: Record<Impl, ScaleResult>
  /** Ours and the bare watcher: CPU per watch event of a follower. */
  events?: EventsResult
}

export const fmt = (value: number | undefined, digits = 0) =>
  value === undefined || Number.isNaN(value) ? "-" : value.toFixed(digits)
export const ratio = (a: number | undefined, b: number | undefined) =>
  a === undefined || b === undefined || a < 0 || b <= 0 ? "-" : `${(a / b).toFixed(2)}x`

export type Row = [string, string, string, string]

/** The rows of the table: ours, client-go (or a reference: the floor, the schedule-only run) and their ratio. */
export const buildTable = (
  results: Record<string, ProfileResults>,
  lfl: LflResult | undefined,
  floor: FloorResult | undefined,
  showCost: boolean
) => {
  const rows: Array<Row> = []
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
      if (showCost && o.cost && g.cost) {
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
    if (r.events) {
      const { ours, bare } = r.events
      rows.push([
        `${tag}: follower CPU per watch event (ms), ours vs a bare client`,
        fmt(ours.msPerEvent, 2),
        fmt(bare.msPerEvent, 2),
        ratio(ours.msPerEvent, bare.msPerEvent)
      ])
      rows.push([
        `${tag}: follower CPU s, ${r.events.windowSeconds} s at the leader's pace / with a renew every ${r.events.burstIntervalMs} ms`,
        `${fmt(ours.idle.cpuSeconds, 2)} / ${fmt(ours.burst.cpuSeconds, 2)}`,
        `${fmt(bare.idle.cpuSeconds, 2)} / ${fmt(bare.burst.cpuSeconds, 2)}`,
        "-"
      ])
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
      if (showCost) {
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

export const renderTable = (rows: Array<Row>, markdown: boolean) => {
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
