/** The targets the issues set for ours, evaluated on a run's results. */
import * as os from "node:os"
import type { FloorResult } from "../phases/floor.js"
import type { HandoverResult } from "../phases/handover.js"
import { total, verbRate } from "../rates.js"
import { stats } from "../stats.js"
import { fmt, type ProfileResults, ratio } from "./table.js"

export interface Target {
  readonly target: string
  readonly profile: string
  readonly value: string
  readonly met: boolean | undefined
  /** A figure the issues ask to report, with no bound. */
  readonly reportOnly?: boolean
  readonly reason: string
}

/** Each target of ours, met or not, with the measured value and why. */
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
    if (r.events) {
      const perEvent = r.events.ours.msPerEvent
      const steady = r.load?.ours.cost === undefined ? undefined : (() => {
        const writes = verbRate(r.load!.ours.leaderPerMin, "PUT") * r.load!.ours.windowSeconds / 60
        return writes > 0 ? r.load!.ours.cost!.follower.cpuSecondsInWindow * 1000 / writes : undefined
      })()
      out.push({
        target: "follower CPU <= 0.5 ms per watch event",
        profile: name,
        value: `${fmt(perEvent, 2)} ms (a bare client: ${fmt(r.events.bare.msPerEvent, 2)} ms)`,
        met: perEvent === undefined ? undefined : perEvent <= 0.5,
        reason: `the extra CPU of a follower under a renew every ${r.events.burstIntervalMs} ms over its extra ` +
          `events; in the steady window, all of a follower's CPU over the leader's renews: ${fmt(steady, 2)} ms`
      })
    }
    if (r.load?.ours.cost) {
      const { follower, leader } = r.load.ours.cost
      const writes = verbRate(r.load.ours.leaderPerMin, "PUT") * r.load.ours.windowSeconds / 60
      out.push({
        target: "leader CPU per renew (reported)",
        profile: name,
        value: `${fmt(writes > 0 ? leader.cpuSecondsInWindow * 1000 / writes : undefined, 2)} ms`,
        met: undefined,
        reportOnly: true,
        reason:
          `${fmt(leader.cpuSecondsInWindow, 2)} CPU s over ${fmt(writes)} renews in the steady window (/proc counts ` +
          "CPU in 10 ms ticks)"
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
