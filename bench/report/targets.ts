/**
 * The targets the issues set for ours, evaluated on a run's results for each edition it measured (Effect 3 and
 * Effect 4), side by side in one row per target: met only if every edition measured meets it.
 */
import * as os from "node:os"
import type { FloorResult } from "../phases/floor.js"
import type { HandoverResult } from "../phases/handover.js"
import type { LoadResult } from "../phases/load.js"
import { total, verbRate } from "../rates.js"
import { editionOf, type Impl, type Ours, oursImpls } from "../settings.js"
import { stats } from "../stats.js"
import { fmt, notMeasured, type ProfileResults, ratio, warmOf } from "./table.js"

export interface Target {
  readonly target: string
  readonly profile: string
  readonly value: string
  /** Every edition measured meets it (false if one misses it, undefined if one could not be evaluated). */
  readonly met: boolean | undefined
  /** Per edition measured (results files from before the Effect 4 edition do not have it). */
  readonly editions?: Partial<Record<Ours, boolean | undefined>>
  /** A figure the issues ask to report, with no bound. */
  readonly reportOnly?: boolean
  readonly reason: string
}

/** One edition's measure of a target. */
interface Measure {
  readonly value: string
  readonly met: boolean | undefined
  readonly reason: string
}

export const editionLabel = (impl: Ours) => `Effect ${editionOf(impl)}`

/** Each target of ours, met or not, with the measured values and why. */
export const evaluateTargets = (
  results: Record<string, ProfileResults>,
  context: {
    readonly steadySeconds: number
    readonly loadAverage: ReadonlyArray<number>
    readonly floor?: FloorResult | undefined
  }
): Array<Target> => {
  const out: Array<Target> = []
  const floorPut = context.floor?.putMs?.p50
  /**
   * One target, measured by `measure` on each edition of `phase` (those the run measured); `reference` is
   * client-go's value where the phase measured it.
   */
  const target = <A>(
    target: string,
    profile: string,
    phase: Partial<Record<Impl, A>> | undefined,
    measure: (result: A, impl: Ours) => Measure | undefined,
    options: {
      readonly reference?: ((result: A) => string) | undefined
      readonly reportOnly?: boolean | undefined
      /** Put before the reason once, whatever the editions. */
      readonly lead?: string | undefined
      /** Appended to the reason once, whatever the editions. */
      readonly note?: string | undefined
    } = {}
  ) => {
    if (phase === undefined) return
    const per: Partial<Record<Ours, Measure>> = {}
    for (const impl of oursImpls) {
      const result = phase[impl]
      const m = result === undefined ? undefined : measure(result, impl)
      if (m !== undefined) per[impl] = m
    }
    const measured = oursImpls.filter((impl) => per[impl] !== undefined)
    if (measured.length === 0) return
    const go = phase["client-go"]
    const value = [
      ...oursImpls.map((impl) => `${editionLabel(impl)}: ${per[impl]?.value ?? notMeasured}`),
      ...(go === undefined || options.reference === undefined ? [] : [`client-go: ${options.reference(go)}`])
    ].join("; ")
    const mets = measured.map((impl) => per[impl]!.met)
    const reasons = [...new Set(measured.map((impl) => per[impl]!.reason))]
    const reason = reasons.length === 1
      ? reasons[0]!
      : measured.map((impl) => `${editionLabel(impl)}: ${per[impl]!.reason}`).join("; ")
    out.push({
      target,
      profile,
      value,
      met: mets.includes(false) ? false : mets.includes(undefined) ? undefined : true,
      editions: Object.fromEntries(measured.map((impl) => [impl, per[impl]!.met])),
      ...(options.reportOnly ? { reportOnly: true } : {}),
      reason: `${options.lead ?? ""}${reason}${options.note ?? ""}`
    })
  }
  /** The targets near the physical floor (issue 11), for the cold and the warm handovers. */
  const nearFloor = (profile: string, kind: "cold" | "warm", phase: Partial<Record<Ours, HandoverResult>>) => {
    const within = (value: number | undefined, bound: number) => value === undefined ? undefined : value <= bound
    target(`${kind} graceful handover p50 <= 10 ms and p95 <= 20 ms`, profile, phase, (result) => {
      const [s, after] = [result.stats["fromSignalMs"], result.stats["afterReleaseMs"]]
      return {
        value: `p50 ${fmt(s?.p50, 1)} ms, p95 ${fmt(s?.p95, 1)} ms`,
        met: s === undefined ? undefined : s.p50 <= 10 && s.p95 <= 20,
        reason: `stopped_leading -> release seen ${fmt(result.stats["releaseVisibleMs"]?.p50, 1)} ms, release seen ` +
          `-> started ${fmt(after?.p50, 1)} ms (p50)`
      }
    }, {
      note: `; the floor of a handover here is ${
        fmt((context.floor?.watchMs?.p50 ?? Number.NaN) + (floorPut ?? Number.NaN), 1)
      } ms`
    })
    target(`${kind}: release seen -> next started_leading p50 <= floor PUT + 2 ms`, profile, phase, (result) => {
      const after = result.stats["afterReleaseMs"]
      return {
        value: `${fmt(after?.p50, 1)} ms`,
        met: floorPut === undefined ? undefined : within(after?.p50, floorPut + 2),
        reason: "the follower's watch event, its wake-up and its acquiring PUT"
      }
    }, { note: ` (floor PUT ${fmt(floorPut, 1)} ms)` })
  }
  const busy = context.loadAverage[0]! > 0.5
    ? `; the machine was busy (load average ${
      context.loadAverage[0]!.toFixed(1)
    } on ${os.cpus().length} cores at the start), and every step is a Node process that has to be scheduled`
    : ""
  const median = (values: Array<number>) => stats(values)?.p50
  /** A follower's CPU over the leader's renews in the steady window, in ms. */
  const perWrite = (load: LoadResult | undefined, cpuSeconds: (cost: NonNullable<LoadResult["cost"]>) => number) => {
    if (load?.cost === undefined) return undefined
    const writes = verbRate(load.leaderPerMin, "PUT") * load.windowSeconds / 60
    return writes > 0 ? cpuSeconds(load.cost) * 1000 / writes : undefined
  }
  for (const [name, r] of Object.entries(results)) {
    if (r.graceful) {
      const split = (trials: HandoverResult["trials"]) =>
        `median split: SIGTERM -> stopped_leading ${
          fmt(median(trials.flatMap((t) => t.fromStopMs === undefined ? [] : [t.fromSignalMs - t.fromStopMs])), 1)
        } ms, stopped_leading -> release seen on a watch ${
          fmt(median(trials.flatMap((t) => t.releaseVisibleMs ?? [])), 1)
        } ms, release seen -> follower's started_leading ${
          fmt(median(trials.flatMap((t) => t.afterReleaseMs ?? [])), 1)
        } ms`
      target("graceful handover p50 <= 50 ms", name, r.graceful, (result) => {
        const s = result.stats["fromSignalMs"]
        return {
          value: `${fmt(s?.p50, 1)} ms`,
          met: s === undefined ? undefined : s.p50 <= 50,
          reason: s === undefined
            ? "no trials"
            : s.p50 <= 50
            ? `the follower's watch sees the release and it writes at once (${split(result.trials)})`
            : split(result.trials)
        }
      }, { reference: (go) => `${fmt(go.stats["fromSignalMs"]?.p50, 1)} ms`, note: busy })
      target("graceful handover p95 <= 250 ms", name, r.graceful, (result) => {
        const s = result.stats["fromSignalMs"]
        return {
          value: `${fmt(s?.p95, 1)} ms`,
          met: s === undefined ? undefined : s.p95 <= 250,
          reason: s === undefined
            ? "no trials"
            : s.p95 <= 250
            ? "watch-driven takeover"
            : `max ${fmt(s.max, 1)} ms; ${split(result.trials)}${busy}`
        }
      }, { reference: (go) => `${fmt(go.stats["fromSignalMs"]?.p95, 1)} ms` })
      nearFloor(name, "cold", r.graceful)
    }
    const warm = warmOf(r)
    if (warm) nearFloor(name, "warm", warm)
    if (r.crash) {
      target("crash failover excess p95 <= 30 ms", name, r.crash, (result) => {
        const excess = result.stats["excessMs"]
        return {
          value: `${fmt(excess?.p95, 1)} ms`,
          met: excess === undefined ? undefined : excess.p95 <= 30,
          reason: `p50 ${fmt(excess?.p50, 1)} ms; includes the follower's acquiring PUT (floor ${fmt(floorPut, 1)} ms)`
        }
      })
    }
    if (r.events) {
      const events = r.events
      target("follower CPU <= 0.5 ms per watch event", name, events as Partial<Record<Ours, unknown>>, (_, impl) => {
        const follower = events[impl]!
        const bare = impl === "ours" ? events.bare : events.bareNode24
        const steady = perWrite(r.load?.[impl], (cost) => cost.follower.cpuSecondsInWindow)
        return {
          value: `${fmt(follower.msPerEvent, 2)} ms (a bare client${impl === "ours4" ? " on Node 24" : ""}: ${
            fmt(bare?.msPerEvent, 2)
          } ms)`,
          met: follower.msPerEvent === undefined ? undefined : follower.msPerEvent <= 0.5,
          reason: `in the steady window, all of a follower's CPU over the leader's renews: ${fmt(steady, 2)} ms`
        }
      }, {
        lead: `the extra CPU of a follower under a renew every ${events.burstIntervalMs} ms over its extra events; `
      })
    }
    if (r.load) {
      target("leader CPU per renew (reported)", name, r.load, (load) => {
        if (load.cost === undefined) return undefined
        const writes = verbRate(load.leaderPerMin, "PUT") * load.windowSeconds / 60
        return {
          value: `${fmt(perWrite(load, (cost) => cost.leader.cpuSecondsInWindow), 2)} ms`,
          met: undefined,
          reason: `${fmt(load.cost.leader.cpuSecondsInWindow, 2)} CPU s over ${fmt(writes)} renews in the steady window`
        }
      }, { reportOnly: true, note: " (/proc counts CPU in 10 ms ticks)" })
      target("RSS of a running Lease candidate <= 120 MiB", name, r.load, (load, impl) => {
        if (load.cost === undefined) return undefined
        const { follower, leader } = load.cost
        return {
          value: `leader ${fmt(leader.rssMiB, 1)} MiB, follower ${fmt(follower.rssMiB, 1)} MiB`,
          met: Math.max(leader.rssMiB, follower.rssMiB) <= 120,
          reason: impl === "ours"
            ? "the kubeconfig read without client-node, @effect/platform by module (see Memory)"
            : "the kubeconfig read without client-node, Effect 4's own HTTP modules (see Memory)"
        }
      }, {
        reference: (go) =>
          go.cost === undefined ?
            "-" :
            `leader ${fmt(go.cost.leader.rssMiB, 1)} MiB, follower ${fmt(go.cost.follower.rssMiB, 1)} MiB`
      })
    }
    if (r.crash) {
      target("crash failover excess <= 250 ms at p95", name, r.crash, (result) => {
        const s = result.stats["excessMs"]
        return {
          value: `${fmt(s?.p95, 1)} ms`,
          met: s === undefined ? undefined : s.p95 <= 250,
          reason: s === undefined
            ? "no trials"
            : s.p95 <= 250
            ? "the follower times the expiry from the last renew its watch saw, and wakes exactly then"
            : `p50 ${fmt(s.p50, 1)} ms, max ${fmt(s.max, 1)} ms${busy}`
        }
      }, { reference: (go) => `${fmt(go.stats["excessMs"]?.p95, 1)} ms` })
    }
    if (r.load) {
      target("a follower <= 2 requests per minute at steady state", name, r.load, (load) => {
        const follower = total(load.followerPerMin)
        return {
          value: `${fmt(follower, 2)}/min`,
          met: follower <= 2,
          reason: follower <= 2
            ? "a follower only watches (a watch is one long request)"
            : `by verb: ${JSON.stringify(load.followerPerMin)}`
        }
      }, { reference: (go) => `${fmt(total(go.followerPerMin), 1)}/min` })
      // The baseline subtraction leaves a rounding noise of about one request per window.
      const noGet = (get: number) => get <= 60 / context.steadySeconds + 1e-9
      target("no GET on the leader's renew path", name, r.load, (load) => {
        const get = verbRate(load.leaderPerMin, "GET")
        return {
          value: `${fmt(get, 2)} GET/min`,
          met: noGet(get),
          reason: noGet(get)
            ? "renews update from the cached Lease (GET only after a failed update)"
            : `GETs in the leader-alone window: ${JSON.stringify(load.leaderPerMin)}`
        }
      })
    }
    if (r.scale && r.load) {
      const [scale, load] = [r.scale, r.load]
      const count = Object.values(scale).find((s) => s !== undefined)?.count
      target(`${count} candidates cost at most 1.5x the request rate of two`, name, scale, (s, impl) => {
        const pair = load[impl]
        if (pair === undefined) return undefined
        const [n, two] = [total(s.totalPerMin), total(pair.pairPerMin)]
        const ratioValue = two > 0 ? n / two : Number.NaN
        return {
          value: `${fmt(n, 1)}/min vs ${fmt(two, 1)}/min = ${fmt(ratioValue, 2)}x`,
          met: Number.isNaN(ratioValue) ? undefined : ratioValue <= 1.5,
          reason: ratioValue <= 1.5
            ? "followers add watches, not requests"
            : `by verb: ${JSON.stringify(s.totalPerMin)}`
        }
      }, {
        reference: (go) =>
          load["client-go"] === undefined ? "-" : ratio(total(go.totalPerMin), total(load["client-go"].pairPerMin))
      })
    }
  }
  return out
}
