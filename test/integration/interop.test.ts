import { Effect } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { Leases } from "../../src/index.js"
import { type Candidate, type Edition, kill, monoNow, spawnCandidate } from "../../testkit/candidates.js"
import type { ControlPlane } from "../../testkit/controlPlane.js"
import { leadershipIntervals, overlaps } from "../../testkit/intervals.js"
import { run, startCluster, unique } from "./harness.js"

let cluster: ControlPlane
const started: Array<Candidate> = []

beforeAll(async () => {
  cluster = await startCluster()
})
afterAll(async () => {
  for (const candidate of started) candidate.process.kill("SIGKILL")
  await cluster?.stop({ clean: true })
})

/** The three implementations of client-go's protocol here: client-go itself and our two editions. */
type Implementation = "client-go" | "effect3" | "effect4"
const editionOf: Record<Exclude<Implementation, "client-go">, Edition> = { effect3: 3, effect4: 4 }

const candidate = async (implementation: Implementation, name: string, identity: string) => {
  const spawned = await spawnCandidate(
    implementation === "client-go"
      ? { impl: "client-go", kubeconfig: cluster.adminKubeconfig, name, identity }
      : { impl: "ours", edition: editionOf[implementation], kubeconfig: cluster.adminKubeconfig, name, identity }
  )
  started.push(spawned)
  return spawned
}
const microTime = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/

describe.each(
  [
    { first: "client-go", second: "effect3" },
    { first: "effect3", second: "client-go" },
    { first: "client-go", second: "effect4" },
    { first: "effect4", second: "client-go" },
    { first: "effect3", second: "effect4" },
    { first: "effect4", second: "effect3" }
  ] as const
)("one Lease shared by $first (leading) and $second", ({ first, second }) => {
  it("graceful handover: the leader releases on SIGTERM and the other takes over", async () => {
    const name = unique("interop-graceful")
    const leader = await candidate(first, name, `${first}-1`)
    await leader.waitFor((e) => e.event === "started_leading")
    const follower = await candidate(second, name, `${second}-2`)
    await follower.waitFor((e) => e.event === "new_leader" && e.leader === `${first}-1`)
    // The follower reads the leader's Lease and waits: it does not take a held lease.
    await new Promise((resolve) => setTimeout(resolve, 2500))
    expect(follower.events.some((e) => e.event === "started_leading")).toBe(false)

    const releasedAt = monoNow()
    await kill(leader, "SIGTERM")
    expect(await leader.exited).toBe(0)
    const leads = await follower.waitFor((e) => e.event === "started_leading", 10_000)
    expect(overlaps(leadershipIntervals([leader, follower]))).toBe(false)

    const lease = await run(cluster.adminKubeconfig, Effect.flatMap(Leases, (l) => l.get(name, "default")))
    expect(lease.spec?.holderIdentity).toBe(`${second}-2`)
    expect(lease.spec?.leaseTransitions).toBe(1)
    expect(lease.spec?.acquireTime).toMatch(microTime)
    expect(lease.spec?.renewTime).toMatch(microTime)
    console.log(`${first} -> ${second}: handover ${((leads.mono_ns - releasedAt) / 1e6).toFixed(0)} ms after SIGTERM`)
    await kill(follower, "SIGTERM")
  })

  it("crash: the other takes over after the lease expires", async () => {
    const name = unique("interop-crash")
    const leader = await candidate(first, name, `${first}-1`)
    await leader.waitFor((e) => e.event === "started_leading")
    const follower = await candidate(second, name, `${second}-2`)
    await follower.waitFor((e) => e.event === "new_leader" && e.leader === `${first}-1`)
    await new Promise((resolve) => setTimeout(resolve, 1000))

    const killedAt = monoNow()
    await kill(leader, "SIGKILL")
    const leads = await follower.waitFor((e) => e.event === "started_leading", 15_000)
    const takeoverMs = (leads.mono_ns - killedAt) / 1e6
    // The leader was still leading when killed, so it had renewed within renewDeadline (1.5 s) before; the follower
    // waits the 2 s lease from when it saw that renew: never sooner than 0.5 s after the kill. (How much later
    // depends on the renew cadence under load; the exact expiry is asserted on the TestClock in the unit tests.)
    expect(leader.events.some((e) => e.event === "stopped_leading")).toBe(false)
    expect(takeoverMs).toBeGreaterThan(2000 - 1500)
    expect(overlaps(leadershipIntervals([leader, follower]))).toBe(false)
    const lease = await run(cluster.adminKubeconfig, Effect.flatMap(Leases, (l) => l.get(name, "default")))
    expect(lease.spec?.holderIdentity).toBe(`${second}-2`)
    console.log(`${first} -> ${second}: takeover ${takeoverMs.toFixed(0)} ms after SIGKILL (lease 2 s)`)
    await kill(follower, "SIGTERM")
  })
})

describe("one Lease shared by client-go and both editions", () => {
  it("leadership passes around all three, one leader at a time, with one transition per handover", async () => {
    const name = unique("interop-three")
    const all = [
      await candidate("effect3", name, "effect3-1"),
      await candidate("effect4", name, "effect4-1"),
      await candidate("client-go", name, "client-go-1")
    ]
    // Each leader in turn is stopped with SIGTERM (it releases); one of the others takes over.
    let running = all
    const leaders: Array<string> = []
    while (running.length > 0) {
      const leading = await Promise.any(running.map((c) => c.waitFor((e) => e.event === "started_leading", 20_000)))
      leaders.push(leading.identity)
      const leader = running.find((c) => c.identity === leading.identity)!
      await kill(leader, "SIGTERM")
      expect(await leader.exited).toBe(0)
      running = running.filter((c) => c !== leader)
    }
    expect(new Set(leaders).size).toBe(3)
    expect(overlaps(leadershipIntervals(all))).toBe(false)
    const lease = await run(cluster.adminKubeconfig, Effect.flatMap(Leases, (l) => l.get(name, "default")))
    // Three leaderships, so two transitions; the last leader released the Lease.
    expect(lease.spec?.leaseTransitions).toBe(2)
    expect(lease.spec?.holderIdentity ?? "").toBe("")
    console.log(`three implementations: ${leaders.join(" -> ")}`)
  })
})
