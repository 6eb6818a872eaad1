/** The Lease lock on a real API server, Effect 4 edition: in process, and its candidate processes (Node 24). */
import { Deferred, Effect, Fiber, Layer, Option } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { ContextInfo, LeaderElection, Leases } from "../../../src/effect4/index.js"
import { type Candidate, kill, monoNow, spawnCandidate } from "../../../testkit/candidates.js"
import type { ControlPlane } from "../../../testkit/controlPlane.js"
import { leadershipIntervals, overlaps } from "../../../testkit/intervals.js"
import { liveLayer, run, startCluster, unique } from "./harness.js"

let cluster: ControlPlane
const started: Array<Candidate> = []

beforeAll(async () => {
  cluster = await startCluster()
})
afterAll(async () => {
  for (const candidate of started) candidate.process.kill("SIGKILL")
  await cluster?.stop({ clean: true })
})

/** The Effect 4 edition's candidate (effect4/testkit/candidate.ts on Node 24), whatever CANDIDATE_EDITION says. */
const candidate = async (name: string, identity: string, extra: { repeat?: boolean } = {}) => {
  const spawned = await spawnCandidate({
    impl: "ours",
    edition: 4,
    kubeconfig: cluster.adminKubeconfig,
    name,
    identity,
    ...extra
  })
  started.push(spawned)
  return spawned
}
const ms = (ns: number) => ns / 1e6
const leaseDurationMs = 2000

describe("Lease lock on a real API server", () => {
  it("hands over gracefully: the follower leads right after the leader releases", async () => {
    const name = unique("graceful")
    const a = await candidate(name, "a")
    const aLeads = await a.waitFor((e) => e.event === "started_leading")
    const b = await candidate(name, "b")
    await b.waitFor((e) => e.event === "ready")
    await new Promise((resolve) => setTimeout(resolve, 1500))
    expect(b.events.some((e) => e.event === "started_leading")).toBe(false)

    await kill(a, "SIGTERM")
    const aStopped = a.events.find((e) => e.event === "stopped_leading")!
    const bLeads = await b.waitFor((e) => e.event === "started_leading")
    expect(await a.exited).toBe(0)
    expect(bLeads.mono_ns).toBeGreaterThan(aStopped.mono_ns)
    // The release is seen on the watch: far sooner than an expiry, or a poll.
    expect(ms(bLeads.mono_ns - aStopped.mono_ns)).toBeLessThan(1000)
    expect(aLeads.mono_ns).toBeLessThan(aStopped.mono_ns)

    const lease = await run(cluster.adminKubeconfig, Effect.flatMap(Leases, (l) => l.get(name, "default")))
    expect(lease.spec?.holderIdentity).toBe("b")
    expect(lease.spec?.leaseTransitions).toBe(1)
    expect(lease.spec?.renewTime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/)
    console.log(`graceful handover: ${ms(bLeads.mono_ns - aStopped.mono_ns).toFixed(1)} ms`)
    await kill(b, "SIGTERM")
  })

  it("takes over a killed leader after the lease expires, never before", async () => {
    const name = unique("crash")
    const a = await candidate(name, "a")
    await a.waitFor((e) => e.event === "started_leading")
    const b = await candidate(name, "b")
    await b.waitFor((e) => e.event === "ready")
    await new Promise((resolve) => setTimeout(resolve, 1000))

    const killedAt = monoNow()
    await kill(a, "SIGKILL")
    const bLeads = await b.waitFor((e) => e.event === "started_leading")
    const takeover = ms(bLeads.mono_ns - killedAt)
    // a still led when killed, so it had renewed within renewDeadline (1.5 s) before; b waits the lease duration
    // from when it saw that renew: never sooner than 0.5 s after the kill. (The exact expiry, to the millisecond,
    // is asserted on the TestClock in the unit tests.)
    expect(a.events.some((e) => e.event === "stopped_leading")).toBe(false)
    expect(takeover).toBeGreaterThan(leaseDurationMs - 1500)
    expect(takeover).toBeLessThan(leaseDurationMs + 1000)
    expect(overlaps(leadershipIntervals([a, b]))).toBe(false)
    console.log(`crash takeover: ${takeover.toFixed(0)} ms after SIGKILL (lease ${leaseDurationMs} ms)`)
    await kill(b, "SIGTERM")
  })

  it("interrupts the leader's work at once when another writer takes the Lease", async () => {
    const name = unique("stolen")
    const layer = liveLayer(cluster.adminKubeconfig)
    const election = LeaderElection.leaseLock(name, {
      leaseDuration: "2 seconds",
      renewDeadline: "1500 millis",
      retryPeriod: "500 millis"
    }).pipe(Layer.provide(Layer.merge(layer, ContextInfo.test({ namespace: "default", podName: "victim" }))))
    const outcome = await Effect.runPromise(
      Effect.gen(function*() {
        const leading = yield* Deferred.make<void>()
        const interrupted = yield* Deferred.make<number>()
        const fiber = yield* LeaderElection.runAsLeader(
          Deferred.succeed(leading, undefined).pipe(
            Effect.andThen(Effect.never),
            Effect.onInterrupt(() => Effect.flatMap(Effect.sync(monoNow), (now) => Deferred.succeed(interrupted, now)))
          )
        ).pipe(Effect.provide(election), Effect.forkChild)
        yield* Deferred.await(leading)
        const leases = yield* Leases
        const lease = yield* leases.get(name, "default")
        const stolenAt = monoNow()
        yield* leases.replace({ ...lease, spec: { ...lease.spec, holderIdentity: "thief" } })
        const result = yield* Fiber.join(fiber)
        return { result, reaction: ms((yield* Deferred.await(interrupted)) - stolenAt) }
      }).pipe(Effect.provide(layer))
    )
    expect(outcome.result).toEqual(Option.none())
    // Seen on the watch, not at the next renew or the deadline.
    expect(outcome.reaction).toBeLessThan(400)
    console.log(`stolen lease: work interrupted ${outcome.reaction.toFixed(1)} ms after the foreign write`)
  })

  const leadingNow = (candidates: ReadonlyArray<Candidate>) =>
    candidates.filter((c) =>
      c.process.exitCode === null &&
      c.events.filter((e) => e.event === "started_leading" || e.event === "stopped_leading").at(-1)?.event ===
        "started_leading"
    )
  const waitUntil = async (condition: () => boolean, timeoutMs: number) => {
    const deadline = Date.now() + timeoutMs
    while (!condition()) {
      if (Date.now() > deadline) return false
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    return true
  }

  it("an API server restart during leadership never leaves two leaders, and someone leads afterwards", async () => {
    const name = unique("restart")
    const a = await candidate(name, "a", { repeat: true })
    await a.waitFor((e) => e.event === "started_leading")
    const b = await candidate(name, "b", { repeat: true })
    await b.waitFor((e) => e.event === "ready")

    await cluster.restartApiserver()
    // Someone leads after the restart (a kept it or took it again, or b took over), and only one.
    const leader = await waitUntil(() => leadingNow([a, b]).length === 1, 20_000)
    expect(leader).toBe(true)
    expect(overlaps(leadershipIntervals([a, b]))).toBe(false)
    await kill(a, "SIGTERM")
    await kill(b, "SIGTERM")
    expect(overlaps(leadershipIntervals([a, b]))).toBe(false)
  })

  it("the term strictly grows across handovers and the deletion and re-creation of the Lease (etcd's revision)", async () => {
    const name = unique("term")
    const terms = await run(
      cluster.adminKubeconfig,
      Effect.gen(function*() {
        const lead = (identity: string) =>
          LeaderElection.leadership.pipe(
            Effect.map((leadership) => leadership.term),
            Effect.scoped,
            Effect.provide(
              LeaderElection.leaseLock(name).pipe(
                Layer.provide(ContextInfo.test({ namespace: "default", podName: identity }))
              )
            )
          )
        const leases = yield* Leases
        const first = yield* lead("a")
        const second = yield* lead("b")
        yield* leases.delete(name, "default")
        // Re-created: leaseTransitions starts from 0 again, the term does not.
        const third = yield* lead("c")
        const transitions = (yield* leases.get(name, "default")).spec?.leaseTransitions
        yield* leases.delete(name, "default")
        const fourth = yield* lead("a")
        return { terms: [first, second, third, fourth], transitions }
      })
    )
    expect(terms.transitions).toBe(0)
    for (let i = 1; i < terms.terms.length; i++) expect(terms.terms[i]).toBeGreaterThan(terms.terms[i - 1]!)
    console.log(`terms: ${terms.terms.join(", ")}`)
  })
})
