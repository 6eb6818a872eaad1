/**
 * The two properties of the safety suite (docs/safety.md), run by both editions' `safety.test.ts` on their own
 * simulation (`simulateLease`, `simulateLeaderForLife`): the same generators, the same fast-check (this module's),
 * the same seed and the same number of runs, so both editions face the same scenarios.
 *
 * A fixed seed by default, so that `npm test` is deterministic: the same 600 scenarios on every run. Soak with fresh
 * scenarios with `SAFETY_SEED=random` (fast-check picks and prints the seed), or replay one with `SAFETY_SEED=<n>`
 * (and `SAFETY_PATH=<path>`); `SAFETY_RUNS` and `SAFETY_LFL_RUNS` set the number of runs of each property.
 */
import fc from "fast-check"
import { lflScenarioArb, scenarioArb } from "./arbitraries.js"
import type { RateLimits } from "./intervals.js"
import { leaseRateLimits, type Outcome, type Scenario } from "./leaseModel.js"
import { type LflOutcome, lflRateLimits, type LflScenario } from "./lflModel.js"
import { leaseRegressions, lflRegressions } from "./regressions.js"

const defaultSeed = 20261127
const seedSetting = process.env["SAFETY_SEED"] ?? String(defaultSeed)

const replay: Partial<fc.Parameters<unknown>> = {
  ...(seedSetting === "random"
    ? {}
    : {
      seed: Number(seedSetting),
      ...(process.env["SAFETY_PATH"] === undefined ? {} : { path: process.env["SAFETY_PATH"] })
    }),
  // SAFETY_NO_SHRINK=1: report the first counterexample as found (shrinking reruns the simulation many times).
  ...(process.env["SAFETY_NO_SHRINK"] === undefined ? {} : { endOnFailure: true })
}

const showPeaks = (rateLimits: RateLimits, peaks: ReadonlyArray<number>) =>
  rateLimits.map(({ bound, window }, i) => `${peaks[i]} in ${window} ms (bound ${bound})`).join(", ")

/** Each run is synchronous (docs/safety.md): let vitest's own timers and messages through between runs. */
const breathe = () => new Promise((resolve) => setImmediate(resolve))

/**
 * Lease: never two leaders, the hard deadline holds, someone leads again after the last fault, the term grows, the
 * request rates stay bounded and no Lease is left behind. Throws fast-check's report on a violation; prints the
 * totals to stderr (prefixed with `edition`) and returns the number of runs.
 */
export const checkLeaseProperty = async (
  edition: string,
  simulateLease: (scenario: Scenario) => Outcome
): Promise<number> => {
  const started = Date.now()
  const stats = {
    runs: 0,
    intervals: 0,
    faults: 0,
    worstRecovery: 0,
    simulatedMs: 0,
    peakRequests: leaseRateLimits.map(() => 0),
    exits: 0,
    byClass: {} as Record<string, number>
  }
  await fc.assert(
    fc.asyncProperty(scenarioArb, async (scenario) => {
      await breathe()
      const outcome = simulateLease(scenario)
      stats.runs++
      stats.intervals += outcome.intervals.length
      stats.faults += outcome.faults
      stats.simulatedMs += outcome.endOfRun
      outcome.peakRequests.forEach((peak, i) => stats.peakRequests[i] = Math.max(stats.peakRequests[i]!, peak))
      stats.exits += outcome.exits
      for (const [kind, n] of Object.entries(outcome.faultsByClass)) {
        stats.byClass[kind] = (stats.byClass[kind] ?? 0) + n
      }
      if (outcome.recoveredAfter !== undefined) {
        stats.worstRecovery = Math.max(stats.worstRecovery, outcome.recoveredAfter / outcome.livenessBound)
      }
      if (outcome.violations.length > 0) throw new Error(outcome.violations.join("\n"))
    }),
    { numRuns: Number(process.env["SAFETY_RUNS"] ?? 500), examples: leaseRegressions.map((s) => [s]), ...replay }
  )
  process.stderr.write(
    `${edition}Lease: ${stats.runs} runs in ${
      Date.now() - started
    } ms, ${stats.intervals} leadership intervals, ${stats.faults} faults, ${
      Math.round(stats.simulatedMs / 1000)
    } s simulated; worst recovery ${
      Math.round(stats.worstRecovery * 100)
    }% of the bound; peak requests of one process ${
      showPeaks(leaseRateLimits, stats.peakRequests)
    }; ${stats.exits} processes ended on injected defects or rotated credentials\nfaults by class: ${
      JSON.stringify(stats.byClass)
    }\n`
  )
  return stats.runs
}

/**
 * Leader for life (ConfigMap): never two leaders, a deleted leader's Pod hands over on the watch, someone leads at
 * the end, the term grows, the request rates stay bounded and no lock is left behind. As `checkLeaseProperty`.
 */
export const checkLeaderForLifeProperty = async (
  edition: string,
  simulateLeaderForLife: (scenario: LflScenario) => LflOutcome
): Promise<number> => {
  const started = Date.now()
  let runs = 0
  let intervals = 0
  let instant = 0
  const peak = lflRateLimits.map(() => 0)
  let exits = 0
  const byClass: Record<string, number> = {}
  await fc.assert(
    fc.asyncProperty(lflScenarioArb, async (scenario) => {
      await breathe()
      const outcome = simulateLeaderForLife(scenario)
      runs++
      intervals += outcome.intervals.length
      instant += outcome.instantTakeovers
      outcome.peakRequests.forEach((p, i) => peak[i] = Math.max(peak[i]!, p))
      exits += outcome.exits
      for (const [kind, n] of Object.entries(outcome.faultsByClass)) byClass[kind] = (byClass[kind] ?? 0) + n
      if (outcome.violations.length > 0) throw new Error(outcome.violations.join("\n"))
    }),
    { numRuns: Number(process.env["SAFETY_LFL_RUNS"] ?? 100), examples: lflRegressions.map((s) => [s]), ...replay }
  )
  process.stderr.write(
    `${edition}leader for life: ${runs} runs in ${
      Date.now() - started
    } ms, ${intervals} leadership intervals, ${instant} instant takeovers checked; peak requests of one process ${
      showPeaks(lflRateLimits, peak)
    }; ${exits} processes ended on injected faults\nfaults by class: ${JSON.stringify(byClass)}\n`
  )
  return runs
}
