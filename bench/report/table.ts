/**
 * The results of a run and the table that compares them: ours in both editions (Effect 3 and Effect 4), client-go,
 * the floor. An implementation the run did not measure (`--impls`, or a results file from before the Effect 4
 * edition) shows as "not measured" in its column.
 */
import type { EventsResult } from "../phases/events.js"
import type { FloorResult } from "../phases/floor.js"
import type { HandoverResult } from "../phases/handover.js"
import type { LflResult } from "../phases/lfl.js"
import type { LoadResult } from "../phases/load.js"
import type { ScaleResult } from "../phases/scale.js"
import { total, verbRate } from "../rates.js"
import { type Impl, implLabels, type Ours, oursImpls, type ProfileName, profiles } from "../settings.js"

export interface ProfileResults {
  graceful?: Partial<Record<Impl, HandoverResult>>
  /**
   * Ours only, by edition: handovers between two processes that have both led before (SIGUSR2: release, enter
   * again). Results files from before the Effect 4 edition have Effect 3's result itself here: see `warmOf`.
   */
  warm?: Partial<Record<Ours, HandoverResult>> | HandoverResult
  crash?: Partial<Record<Impl, HandoverResult>>
  load?: Partial<Record<Impl, LoadResult>>
  scale?: Partial<Record<Impl, ScaleResult>>
  /** Ours (by edition) and the bare watcher: CPU per watch event of a follower. */
  events?: EventsResult
}

/** The warm handovers by edition, whichever shape the results file has. */
export const warmOf = (r: ProfileResults): Partial<Record<Ours, HandoverResult>> | undefined =>
  r.warm === undefined ? undefined : "trials" in r.warm ? { ours: r.warm as HandoverResult } : r.warm

export const notMeasured = "not measured"

export const fmt = (value: number | undefined, digits = 0) =>
  value === undefined || Number.isNaN(value) ? "-" : value.toFixed(digits)
export const ratio = (a: number | undefined, b: number | undefined) =>
  a === undefined || b === undefined || a < 0 || b <= 0 ? "-" : `${(a / b).toFixed(2)}x`

/** metric, Effect 3, Effect 4, client-go or the reference, Effect 3 / reference, Effect 4 / reference. */
export type Row = [string, string, string, string, string, string]

/** A value per implementation; a key that is absent is an implementation the run did not measure. */
type Values = Partial<Record<Impl, number | undefined>>

/** `f` of each implementation a phase measured. */
const over = <A>(measured: Partial<Record<Impl, A>>, f: (result: A, impl: Impl) => number | undefined): Values =>
  Object.fromEntries(
    Object.entries(measured).flatMap(([impl, result]) =>
      result === undefined ? [] : [[impl, f(result as A, impl as Impl)]]
    )
  )

const cell = (values: Partial<Record<Impl, unknown>>, impl: Impl, show: (value: any) => string) =>
  impl in values ? show(values[impl]) : notMeasured

/** The rows of the table: ours in each edition, client-go (or a reference: the floor, the schedule-only run) and
 * the ratio of each edition to it. */
export const buildTable = (
  results: Record<string, ProfileResults>,
  lfl: LflResult | undefined,
  floor: FloorResult | undefined,
  showCost: boolean
) => {
  const rows: Array<Row> = []
  /** Ours against client-go. */
  const row = (label: string, values: Values, digits = 0) =>
    rows.push([
      label,
      cell(values, "ours", (v) => fmt(v, digits)),
      cell(values, "ours4", (v) => fmt(v, digits)),
      cell(values, "client-go", (v) => fmt(v, digits)),
      ratio(values.ours, values["client-go"]),
      ratio(values.ours4, values["client-go"])
    ])
  /** A reference of the run's own (the floor), not of an implementation. */
  const reference = (label: string, value: string) => rows.push([label, "-", "-", value, "-", "-"])
  // The floor of this API server in this run: a bare kept-alive client's Lease PUT, and its event on another watch.
  const [floorPut, floorWatch] = [floor?.putMs?.p50, floor?.watchMs?.p50]
  const floorHandover = floorPut !== undefined && floorWatch !== undefined ? floorWatch + floorPut : undefined
  if (floor) {
    reference("floor: bare kept-alive client, Lease PUT p50 (ms)", fmt(floorPut, 1))
    reference("floor: bare kept-alive client, Lease PUT p95 (ms)", fmt(floor.putMs?.p95, 1))
    reference("floor: PUT start -> its event on another connection's watch p50 (ms)", fmt(floorWatch, 1))
    reference("floor: graceful handover (release, its event, the next PUT) p50 (ms)", fmt(floorHandover, 1))
  }
  /** Ours (the editions measured) against one reference. */
  const vsReference = (label: string, values: Values, referenceValue: number | undefined, digits = 1) =>
    rows.push([
      label,
      cell(values, "ours", (v) => fmt(v, digits)),
      cell(values, "ours4", (v) => fmt(v, digits)),
      fmt(referenceValue, digits),
      ratio(values.ours, referenceValue),
      ratio(values.ours4, referenceValue)
    ])
  const oursOf = (values: Values): Values =>
    Object.fromEntries(Object.entries(values).filter(([impl]) => impl !== "client-go"))
  for (const [name, r] of Object.entries(results)) {
    const p = profiles[name as ProfileName]
    const tag = `${name} ${p.leaseDuration}/${p.renewDeadline}/${p.retryPeriod}`
    if (r.graceful) {
      const graceful = r.graceful
      const stat = (key: string, pick: "p50" | "p95" | "max") => over(graceful, (h) => h.stats[key]?.[pick])
      row(`${tag}: graceful handover p50 (ms)`, stat("fromSignalMs", "p50"), 1)
      row(`${tag}: graceful handover p95 (ms)`, stat("fromSignalMs", "p95"), 1)
      row(`${tag}: graceful handover max (ms)`, stat("fromSignalMs", "max"), 1)
      row(`${tag}: graceful, stopped_leading -> release on watch p50 (ms)`, stat("releaseVisibleMs", "p50"), 1)
      row(`${tag}: graceful, release on watch -> next started p50 (ms)`, stat("afterReleaseMs", "p50"), 1)
      vsReference(
        `${tag}: graceful handover p50, ours vs floor (ms)`,
        oursOf(stat("fromSignalMs", "p50")),
        floorHandover
      )
      vsReference(
        `${tag}: graceful, release on watch -> next started p50, ours vs floor PUT (ms)`,
        oursOf(stat("afterReleaseMs", "p50")),
        floorPut
      )
    }
    const warm = warmOf(r)
    if (warm) {
      const stat = (key: string, pick: "p50" | "p95") => over(warm, (h) => h.stats[key]?.[pick])
      vsReference(
        `${tag}: warm handover p50 (SIGUSR2, both have led before), ours vs floor (ms)`,
        stat("fromSignalMs", "p50"),
        floorHandover
      )
      vsReference(`${tag}: warm handover p95, ours vs floor (ms)`, stat("fromSignalMs", "p95"), floorHandover)
      vsReference(
        `${tag}: warm, stopped_leading -> release on watch p50, ours vs floor watch (ms)`,
        stat("releaseVisibleMs", "p50"),
        floorWatch
      )
      vsReference(
        `${tag}: warm, release on watch -> next started p50, ours vs floor PUT (ms)`,
        stat("afterReleaseMs", "p50"),
        floorPut
      )
    }
    if (r.crash) {
      const crash = r.crash
      const stat = (key: string, pick: "p50" | "p95" | "max") => over(crash, (h) => h.stats[key]?.[pick])
      row(`${tag}: crash failover excess p50 (ms)`, stat("excessMs", "p50"), 1)
      row(`${tag}: crash failover excess p95 (ms)`, stat("excessMs", "p95"), 1)
      row(`${tag}: crash failover excess max (ms)`, stat("excessMs", "max"), 1)
      row(`${tag}: crash failover from SIGKILL p50 (ms)`, stat("fromSignalMs", "p50"))
      vsReference(
        `${tag}: crash failover excess p95, ours vs floor PUT (ms)`,
        oursOf(stat("excessMs", "p95")),
        floorPut
      )
    }
    if (r.load) {
      const load = r.load
      row(`${tag}: leader requests/min (leases)`, over(load, (l) => total(l.leaderPerMin)), 1)
      row(`${tag}: leader GET/min (renew path)`, over(load, (l) => verbRate(l.leaderPerMin, "GET")), 1)
      row(
        `${tag}: follower requests/min (leases; the pair window minus the leader alone: ±1 is a jittered renew)`,
        over(load, (l) => total(l.followerPerMin)),
        1
      )
      row(`${tag}: leader + follower requests/min`, over(load, (l) => total(l.pairPerMin)), 1)
      if (Object.values(load).some((l) => l?.openWatches)) {
        row(`${tag}: leader + follower open Lease watches`, over(load, (l) => l.openWatches?.pair))
      }
      if (showCost && Object.values(load).some((l) => l?.cost)) {
        row(`${tag}: leader RSS (MiB)`, over(load, (l) => l.cost?.leader.rssMiB), 1)
        row(`${tag}: follower RSS (MiB)`, over(load, (l) => l.cost?.follower.rssMiB), 1)
        row(`${tag}: leader CPU s in window`, over(load, (l) => l.cost?.leader.cpuSecondsInWindow), 2)
        row(`${tag}: follower CPU s in window`, over(load, (l) => l.cost?.follower.cpuSecondsInWindow), 2)
        row(`${tag}: leader CPU s total (incl. start)`, over(load, (l) => l.cost?.leader.cpuSeconds), 2)
        // Per write of the leader (a renew), which the follower receives as one watch event (client-go: one poll).
        const perWrite = (result: LoadResult, cpuSeconds: number | undefined) => {
          const writes = verbRate(result.leaderPerMin, "PUT") * result.windowSeconds / 60
          return writes > 0 && cpuSeconds !== undefined ? cpuSeconds * 1000 / writes : undefined
        }
        row(`${tag}: leader CPU per renew (ms)`, over(load, (l) => perWrite(l, l.cost?.leader.cpuSecondsInWindow)), 2)
        row(
          `${tag}: follower CPU per leader write (ms) [ours: one watch event]`,
          over(load, (l) => perWrite(l, l.cost?.follower.cpuSecondsInWindow)),
          2
        )
      }
    }
    if (r.events) {
      const e = r.events
      // Each edition against the bare client on its own Node (Effect 3: the bench's, Effect 4: Node 24).
      const bareOf: Record<Ours, EventsResult["bare"]> = { ours: e.bare, ours4: e.bareNode24 }
      const editions = oursImpls.filter((impl) => e[impl] !== undefined)
      const bares = (show: (f: NonNullable<EventsResult["bare"]>) => string) =>
        [
          ...(e.bare === undefined ? [] : [show(e.bare)]),
          ...(e.bareNode24 === undefined ? [] : [`${show(e.bareNode24)}${e.bare === undefined ? "" : " (Node 24)"}`])
        ].join("; ") || "-"
      const oursCell = (impl: Ours, show: (f: NonNullable<EventsResult["ours"]>) => string) =>
        editions.includes(impl) ? show(e[impl]!) : notMeasured
      rows.push([
        `${tag}: follower CPU per watch event (ms), ours vs a bare client on its Node`,
        oursCell("ours", (f) => fmt(f.msPerEvent, 2)),
        oursCell("ours4", (f) => fmt(f.msPerEvent, 2)),
        bares((f) => fmt(f.msPerEvent, 2)),
        ratio(e.ours?.msPerEvent, bareOf.ours?.msPerEvent),
        ratio(e.ours4?.msPerEvent, bareOf.ours4?.msPerEvent)
      ])
      const idleBurst = (f: NonNullable<EventsResult["ours"]>) =>
        `${fmt(f.idle.cpuSeconds, 2)} / ${fmt(f.burst.cpuSeconds, 2)}`
      rows.push([
        `${tag}: follower CPU s, ${e.windowSeconds} s at the leader's pace / with a renew every ${e.burstIntervalMs} ms`,
        oursCell("ours", idleBurst),
        oursCell("ours4", idleBurst),
        bares(idleBurst),
        "-",
        "-"
      ])
    }
    if (r.scale) {
      const scale = r.scale
      const count = Object.values(scale).find((s) => s !== undefined)?.count
      row(`${tag}: ${count} candidates requests/min`, over(scale, (s) => total(s.totalPerMin)), 1)
      if (Object.values(scale).some((s) => s?.openWatches !== undefined)) {
        row(`${tag}: ${count} candidates open Lease watches`, over(scale, (s) => s.openWatches))
      }
      if (r.load) {
        const load = r.load
        const rate = (impl: Impl) =>
          impl in scale && impl in load
            ? ratio(total(scale[impl]!.totalPerMin), total(load[impl]!.pairPerMin))
            : notMeasured
        rows.push([
          `${tag}: ${count} vs 2 candidates request rate`,
          rate("ours"),
          rate("ours4"),
          rate("client-go"),
          "-",
          "-"
        ])
      }
      row(`${tag}: ${count} candidates first leader from ready (ms)`, over(scale, (s) => s.firstLeaderFromReadyMs))
      row(`${tag}: ${count} candidates first leader from spawn (ms)`, over(scale, (s) => s.firstLeaderFromSpawnMs))
      if (showCost) {
        row(`${tag}: ${count} candidates avg RSS (MiB)`, over(scale, (s) => s.avgRssMiB), 1)
        row(`${tag}: ${count} candidates avg CPU s in window`, over(scale, (s) => s.avgCpuSecondsInWindow), 2)
      }
    }
  }
  if (lfl) {
    // Effect 3 only: its watch-driven candidate against the schedule-only one (bench/lflCandidate.ts) and the model.
    const [w, s] = [lfl.watch.stats, lfl.scheduleOnly.stats]
    const label = "leader for life: Pod deleted -> next leader"
    const vs = (suffix: string, value: number | undefined, referenceValue: number | undefined) =>
      vsReference(`${label} ${suffix}`, { ours: value }, referenceValue, 0)
    vs("p50 (ms) [ours watch vs schedule only]", w?.p50, s?.p50)
    vs("p95 (ms) [ours watch vs schedule only]", w?.p95, s?.p95)
    vs("max (ms) [ours watch vs schedule only]", w?.max, s?.max)
    vs("p50 (ms) [ours watch vs model: zio-k8s schedule]", w?.p50, lfl.model.zio.p50)
    vs("p95 (ms) [ours watch vs model: zio-k8s schedule]", w?.p95, lfl.model.zio.p95)
    vs("p50 (ms) [ours watch vs model: operator-lib schedule]", w?.p50, lfl.model.operatorLib.p50)
    vs("p95 (ms) [ours watch vs model: operator-lib schedule]", w?.p95, lfl.model.operatorLib.p95)
  }
  return rows
}

export const renderTable = (rows: Array<Row>, markdown: boolean) => {
  const header: Row = [
    "metric",
    implLabels.ours,
    implLabels.ours4,
    "client-go / reference",
    "ratio (Effect 3)",
    "ratio (Effect 4)"
  ]
  if (markdown) {
    return [
      `| ${header.join(" | ")} |`,
      "| --- | ---: | ---: | ---: | ---: | ---: |",
      ...rows.map((r) => `| ${r.join(" | ")} |`)
    ].join("\n")
  }
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)))
  const line = (r: Array<string>) =>
    r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ")
  return [line(header), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)].join("\n")
}
