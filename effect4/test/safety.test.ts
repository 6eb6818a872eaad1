/**
 * The safety suite, in memory and property-based (issue 5; docs/safety.md), on the Effect 4 edition: the properties
 * of `test/safety/properties.ts` (the same generators, seed, number of runs and checks as the Effect 3 suite) run on
 * the Effect 4 simulation (`safety/`). A failure prints fast-check's seed and path; replay it with
 * `SAFETY_SEED=<seed> SAFETY_PATH=<path>` and `vitest run --project safety` in effect4/ (scripts/effect4.sh).
 */
import { describe, expect, it } from "vitest"
import { checkLeaderForLifeProperty, checkLeaseProperty } from "../../test/safety/properties.js"
import { simulateLease } from "./safety/leaseSim.js"
import { simulateLeaderForLife } from "./safety/lflSim.js"

describe("safety (in memory, property-based)", () => {
  it("Lease: never two leaders, the hard deadline holds, and someone leads again after the last fault", async () => {
    expect(await checkLeaseProperty("Effect 4, ", simulateLease)).toBeGreaterThan(0)
  }, 600_000)

  it("leader for life (ConfigMap): never two leaders, and a deleted leader's Pod hands over on the watch", async () => {
    expect(await checkLeaderForLifeProperty("Effect 4, ", simulateLeaderForLife)).toBeGreaterThan(0)
  }, 600_000)
})
