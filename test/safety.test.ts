/**
 * The safety suite, in memory and property-based (issue 5; docs/safety.md): random schedules of candidates and
 * faults, simulated deterministically on a reference clock, checked for "never two leaders", the hard deadline and
 * recovery after the last fault. The properties (generators, seed, number of runs, checks) are in
 * `safety/properties.ts`, shared with the Effect 4 edition's suite; this file runs them on the Effect 3 simulation. A
 * failure prints fast-check's seed and path; replay it with
 * `SAFETY_SEED=<seed> SAFETY_PATH=<path> npx vitest run test/safety.test.ts`.
 */
import { describe, expect, it } from "vitest"
import { simulateLease } from "./safety/leaseSim.js"
import { simulateLeaderForLife } from "./safety/lflSim.js"
import { checkLeaderForLifeProperty, checkLeaseProperty } from "./safety/properties.js"

describe("safety (in memory, property-based)", () => {
  it("Lease: never two leaders, the hard deadline holds, and someone leads again after the last fault", async () => {
    expect(await checkLeaseProperty("", simulateLease)).toBeGreaterThan(0)
  }, 600_000)

  it("leader for life (ConfigMap): never two leaders, and a deleted leader's Pod hands over on the watch", async () => {
    expect(await checkLeaderForLifeProperty("", simulateLeaderForLife)).toBeGreaterThan(0)
  }, 600_000)
})
