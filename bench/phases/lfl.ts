/**
 * Leader for life: the holder killed and its Pod deleted, the next holder woken by its watch; the same with the
 * watches disabled (the retry schedule alone, as zio-k8s and operator-lib); a model of both schedules.
 */
import { type Candidate, kill, monoNow, spawnCandidate } from "../../testkit/candidates.js"
import type { Bench } from "../context.js"
import { isStarted, sees, spawnScheduleOnly, stop } from "../processes.js"
import { log, nsToMs, sleep, uid, uniform } from "../settings.js"
import { type Stats, stats } from "../stats.js"

export interface LflResult {
  readonly watch: { readonly trials: Array<{ ms: number }>; readonly stats: Stats | undefined; errors: Array<string> }
  readonly scheduleOnly: {
    readonly trials: Array<{ ms: number; waitedBeforeDeleteMs: number }>
    readonly stats: Stats | undefined
    readonly errors: Array<string>
  }
  readonly model: {
    readonly assumption: string
    readonly zio: Stats
    readonly operatorLib: Stats
  }
}

/** Ours, Effect 3 (ConfigMap lock, watch-driven): the holder SIGKILLed and its Pod deleted -> the next holder leads. */
const lflWatch = async (bench: Bench) => {
  const lock = `bench-lfl-${uid()}`
  const trials: Array<{ ms: number }> = []
  const errors: Array<string> = []
  const all: Array<Candidate> = []
  const spawnPod = async (identity: string) => {
    await bench.server.createPod(identity)
    const c = await spawnCandidate({
      // The Effect 3 edition, whatever CANDIDATE_EDITION says: the schedule-only twin is Effect 3.
      impl: "ours",
      edition: 3,
      kubeconfig: bench.cp.adminKubeconfig,
      name: lock,
      identity,
      lock: "configmap"
    })
    all.push(c)
    return c
  }
  let leader: Candidate | undefined
  let n = 0
  while (trials.length < bench.settings.trials && n < bench.settings.trials + 3) {
    n++
    try {
      if (leader === undefined) {
        leader = await spawnPod(`lfl-${uid()}`)
        await leader.waitFor(isStarted, 60_000)
      }
      const follower = await spawnPod(`lfl-${uid()}`)
      await follower.waitFor(sees(leader.identity), 60_000)
      await sleep(uniform(500, 3_000))
      await kill(leader, "SIGKILL")
      const t0 = monoNow()
      await bench.server.deletePod(leader.identity)
      const started = await follower.waitFor(isStarted, 120_000)
      trials.push({ ms: nsToMs(started.mono_ns - t0) })
      log(`lfl ours (watch) #${trials.length}: ${trials.at(-1)!.ms.toFixed(1)} ms from the Pod's DELETE`)
      leader = follower
    } catch (error) {
      errors.push((error as Error).message.split("\n")[0]!)
      log(`lfl watch: trial failed: ${errors.at(-1)}`)
      await Promise.all(all.map((c) => stop(c)))
      leader = undefined
    }
  }
  await Promise.all(all.map((c) => stop(c)))
  return { trials, stats: stats(trials.map((t) => t.ms)), errors }
}

/** The same with the watch disabled (bench/lflCandidate.ts): independent trials, run side by side. */
const lflScheduleOnly = async (bench: Bench) => {
  const errors: Array<string> = []
  const results = await Promise.all(Array.from({ length: bench.settings.lflScheduleTrials }, async (_, i) => {
    const lock = `bench-lfl-sched-${uid()}`
    const [a, b] = [`lfls-${uid()}`, `lfls-${uid()}`]
    const procs: Array<Candidate> = []
    try {
      await sleep(i * 1_500)
      await bench.server.createPod(a)
      const leader = spawnScheduleOnly(bench.cp.adminKubeconfig, lock, a)
      procs.push(leader)
      await leader.waitFor(isStarted, 60_000)
      await bench.server.createPod(b)
      const follower = spawnScheduleOnly(bench.cp.adminKubeconfig, lock, b)
      procs.push(follower)
      const ready = await follower.waitFor((e) => e.event === "ready", 60_000)
      const wait = uniform(bench.settings.lflWait[0], bench.settings.lflWait[1]) * 1000
      await sleep(Math.max(0, wait - nsToMs(monoNow() - ready.mono_ns)))
      await kill(leader, "SIGKILL")
      const t0 = monoNow()
      await bench.server.deletePod(a)
      const started = await follower.waitFor(isStarted, 120_000)
      const trial = { ms: nsToMs(started.mono_ns - t0), waitedBeforeDeleteMs: nsToMs(t0 - ready.mono_ns) }
      log(
        `lfl schedule only #${i + 1}: ${trial.ms.toFixed(0)} ms (follower waited ${
          trial.waitedBeforeDeleteMs.toFixed(0)
        } ms)`
      )
      return [trial]
    } catch (error) {
      errors.push((error as Error).message.split("\n")[0]!)
      return []
    } finally {
      await Promise.all(procs.map((c) => stop(c)))
    }
  }))
  const trials = results.flat()
  return { trials, stats: stats(trials.map((t) => t.ms)), errors }
}

/**
 * Where a follower that has waited long on a backoff schedule wakes after the lock is freed at a uniformly random
 * moment between 40 s and 400 s of waiting: zio-k8s (and our schedule): 1, 2, 4, 8, 16 s then 30 s, each x U(0.8,
 * 1.2); operator-lib: 1 s doubling to a 16 s cap, each x U(1, 1.2) (wait.Backoff jitter 0.2). 100 000 draws.
 */
const modelSchedules = () => {
  let seed = 42
  const rand = () => {
    seed = (seed * 1103515245 + 12345) % 2147483648
    return seed / 2147483648
  }
  const simulate = (step: (i: number) => number) => {
    const delays: Array<number> = []
    for (let draw = 0; draw < 100_000; draw++) {
      const freedAt = 40_000 + rand() * 360_000
      let t = 0
      for (let i = 0; t < freedAt; i++) t += step(i)
      delays.push(t - freedAt)
    }
    return stats(delays)!
  }
  return {
    assumption:
      "lock freed at U(40 s, 400 s) of the follower's wait; delay to its next wake; GC and write not included",
    zio: simulate((i) => Math.min(1000 * 2 ** i, 30_000) * (0.8 + 0.4 * rand())),
    operatorLib: simulate((i) => Math.min(1000 * 2 ** i, 16_000) * (1 + 0.2 * rand()))
  }
}

export const measureLfl = async (bench: Bench): Promise<LflResult> => {
  const watch = await lflWatch(bench)
  const scheduleOnly = await lflScheduleOnly(bench)
  return { watch, scheduleOnly, model: modelSchedules() }
}
