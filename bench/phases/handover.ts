/**
 * Handovers: graceful (SIGTERM, the holder releases), crash (SIGKILL, the follower waits out the lease) and warm
 * (two processes that have both led before hand over on SIGUSR2), for each implementation of the run (`--impls`):
 * one chain per implementation, side by side on different Leases (one after another with `--serial`).
 */
import { type Candidate, kill, monoNow, spawnCandidate } from "../../testkit/candidates.js"
import { leadershipIntervals, overlaps } from "../../testkit/intervals.js"
import type { LeaseWatch } from "../apiServer.js"
import type { Bench } from "../context.js"
import { candidate, isStarted, sees, spawnOptions, stop } from "../processes.js"
import { eachImpl, type Impl, isOurs, log, nsToMs, type Ours, type Profile, sleep, uid, uniform } from "../settings.js"
import { type Stats, stats } from "../stats.js"

export interface HandoverTrial {
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
export interface HandoverResult {
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
  bench: Bench,
  kind: "graceful" | "crash",
  impl: Impl,
  profile: Profile,
  trials: number,
  watcher: LeaseWatch | undefined
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
        leader = await candidate(bench.cp.adminKubeconfig, impl, profile, lease, `${impl}-${n}-l`)
        all.push(leader)
        await leader.waitFor(isStarted, profile.leaseMs * 2 + 60_000)
      }
      const follower = await candidate(bench.cp.adminKubeconfig, impl, profile, lease, `${impl}-${n}`)
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

export const handover = async (
  bench: Bench,
  kind: "graceful" | "crash",
  profile: Profile
): Promise<Partial<Record<Impl, HandoverResult>>> => {
  const watcher = bench.server.watchLeases()
  try {
    // Crash trials mostly wait for the lease to expire: --parallel runs several chains side by side.
    const chainCount = kind === "crash" ? bench.settings.parallel : 1
    const perChain = Math.ceil(bench.settings.trials / chainCount)
    return await eachImpl(bench.settings, bench.settings.impls, async (impl) => {
      const chains = await Promise.all(
        Array.from(
          { length: bench.settings.parallel },
          (_, i) =>
            handoverChain(bench, kind, impl, profile, Math.min(perChain, bench.settings.trials - i * perChain), watcher)
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
      return result
    })
  } finally {
    watcher.stop()
  }
}

/**
 * Warm handovers, ours only (each edition of the run): the graceful handover of `handover` is the first acquisition
 * of a new process (its code runs for the first time, not yet compiled). Here two candidates hand over to each other
 * on SIGUSR2 (the leader releases and enters the election again) after a few warm-up rounds, so both run code that
 * has run before.
 */
export const warmHandover = (bench: Bench, profile: Profile): Promise<Partial<Record<Ours, HandoverResult>>> =>
  eachImpl(bench.settings, bench.settings.impls.filter(isOurs), (impl) => warmChain(bench, impl, profile))

const warmChain = async (bench: Bench, impl: Ours, profile: Profile): Promise<HandoverResult> => {
  const watcher = bench.server.watchLeases()
  const lease = `bench-warm-${impl}-${profile.name}-${uid()}`
  const warmup = 4
  const spawned: Array<Candidate> = []
  const trials: Array<HandoverTrial> = []
  const errors: Array<string> = []
  try {
    const start = async (identity: string) => {
      const c = await spawnCandidate({
        ...spawnOptions(impl),
        kubeconfig: bench.cp.adminKubeconfig,
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
    let leader = await start(`${impl}-warm-a`)
    await leader.waitFor(isStarted, 60_000)
    let follower = await start(`${impl}-warm-b`)
    await follower.waitFor(sees(leader.identity), 60_000)
    for (let round = 0; round < bench.settings.trials + warmup; round++) {
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
        log(`warm ${impl} ${profile.name} #${trials.length}: ${trial.fromSignalMs.toFixed(1)} ms from the signal`)
      }
      ;[leader, follower] = [follower, leader]
    }
  } catch (error) {
    errors.push((error as Error).message.split("\n")[0]!)
    log(`warm ${impl} ${profile.name}: failed: ${errors.at(-1)}`)
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
