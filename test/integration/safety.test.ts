/**
 * The safety suite on the real control plane: four candidate processes on one Lease, two of ours and two of
 * client-go's, under a seeded random schedule of faults: SIGKILL of the leader, SIGSTOP/SIGCONT of the leader for
 * longer than the lease, an API server restart, and a TCP proxy that blackholes the one candidate it carries while
 * that candidate leads; and, as an outside writer (kubectl, GitOps), the test itself writes the Lease's
 * leaseDurationSeconds (1 s), writes an intruder as its holder, and deletes it while one of ours leads. Every process
 * logs leadership start and stop on CLOCK_MONOTONIC; the checker asserts that no two leadership intervals overlap,
 * that a leader of ours stops within 250 ms of an intruder's write or a deletion (client-go: by its renewDeadline), and
 * that no leaderless stretch is longer than the bound derived below.
 *
 * Replay a run: SAFETY_SEED=<seed> npx vitest run --project integration test/integration/safety.test.ts
 * SAFETY_STRICT_PAUSE=1 also fails on the overlaps a SIGSTOPped leader causes (see "Paused leaders" below).
 */
import { Effect } from "effect"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { Leases } from "../../src/Leases.js"
import { formatMicroTime } from "../../src/resources.js"
import { type Candidate, type CandidateOptions, fast, kill, monoNow, spawnCandidate } from "../../testkit/candidates.js"
import type { ControlPlane } from "../../testkit/controlPlane.js"
import { leaderlessGaps, leadershipIntervals, overlappingPairs } from "../../testkit/intervals.js"
import { prng } from "../safety/timeline.js"
import { kubeconfigWithServer, run, startCluster, unique } from "./harness.js"
import { type Proxy, startProxy } from "./proxy.js"

// ---------------------------------------------------------------------------------------------------------------------
// Settings and bounds
// ---------------------------------------------------------------------------------------------------------------------

/**
 * The fast profile of the other suites, 2 s / 1.5 s / 0.5 s, not 4/3/1: client-go keeps its leases at this speed on
 * two loaded cores too (a renew is one update of a few ms; in runs at load averages up to 14 no client-go leader lost
 * its lease without a fault), and a spurious loss would be a transition, not a safety question. The price is the
 * safety margin under a partition, leaseDuration - renewDeadline = 500 ms: a cut-off leader of ours stops at most
 * renewDeadline after its last renew began, followers take over leaseDuration after they saw that renew.
 */
const profile = fast
const leaseMs = 2000
const renewDeadlineMs = 1500
const retryMs = 500

/**
 * The longest leaderless stretch allowed, outside the API server restart window. The worst case is a leader that
 * stops renewing (a blackhole, an overloaded API server) just after a successful renew: it stops at its own deadline,
 * renewDeadline after that renew started; a follower takes over leaseDuration after it saw the renew, and a
 * client-go follower sees it and then tries again only every [retryPeriod, 2.2 x retryPeriod). So
 * leaseDuration + renewDeadline + 2.2 x retryPeriod = 4.6 s, plus 2 s of slack for two cores shared with a control
 * plane and other suites (process scheduling, a tsx candidate starting, a slow first request).
 */
const gapBoundMs = leaseMs + renewDeadlineMs + 2.2 * retryMs + 2000
/**
 * After the API server is ready again the gap is bounded the same way: whoever leads lost at its deadline during the
 * restart, the lease it last wrote expired, and the first poll or watch reconnect (at most 2.2 x retryPeriod) finds it
 * free: the whole restart window is excluded and the part after it must stay within gapBoundMs.
 */
/**
 * Paused leaders: a SIGSTOPped process cannot log. It is treated as leading from started_leading until its
 * stopped_leading line, across the pause, as the processes themselves believe. A pause longer than the lease lets
 * another candidate take over correctly (the lease expired), so that belief overlaps the new leader's interval by
 * construction: no lease protocol can prevent it, only fencing (the `term` token) can make the stale leader's late
 * writes harmless. Such an overlap is printed as a FINDING each run, and it is accepted only when the other started
 * after the pause began and the resumed process logged stopped_leading soon after SIGCONT:
 * - ours within staleBoundMs: its deadline (renewDeadline after the start of its last successful renew, on the
 *   monotonic clock, which runs on during the pause) has passed, so its timer fires at once;
 * - client-go within clientGoLateStopMs: client-go counts renewDeadline from the start of each renew round and
 *   sleeps retryPeriod after a successful one (wait.Until, sliding). A process resumed between rounds starts a fresh
 *   round at once and believes it leads for renewDeadline more, even though its first GET shows another holder; one
 *   paused with a renew in flight reads that renew's success on SIGCONT, sleeps retryPeriod, and only then starts the
 *   round that fails: retryPeriod + renewDeadline after SIGCONT (a client-go weakness, measured here, not hidden).
 *   Measured on this control plane with the profile below: 2003 ms when paused with its first renew in flight (as
 *   one CI run did, 10 ms after started_leading: 2004.9 ms), 1503 ms when paused between rounds, 5 ms when paused
 *   before that renew was sent (its PUT then fails and the round's deadline has passed).
 * Any other overlap fails the test; SAFETY_STRICT_PAUSE=1 fails on these too.
 */
const staleBoundMs = 250
/**
 * The longest a client-go leader goes on believing it leads once it can act: a renew round that succeeded just
 * before (or, after a pause, while) the record changed is followed by a retryPeriod sleep, then a round that retries
 * until renewDeadline has passed (measured: 1951 ms after a foreign write in one CI run, 2004.9 ms after a SIGCONT in
 * another).
 */
const clientGoLateStopMs = retryMs + renewDeadlineMs + staleBoundMs
/**
 * How late a leader may stop after SIGCONT, or after an intruder rewrote or deleted its Lease: ours sees the record
 * at once (its deadline has passed; its watch delivers the write) and stops within staleBoundMs; client-go only at its
 * next renew round, within clientGoLateStopMs.
 */
const lateStopBoundFor = (identity: string) => identity.startsWith("go-") ? clientGoLateStopMs : staleBoundMs
const strictPause = process.env["SAFETY_STRICT_PAUSE"] === "1"

// ---------------------------------------------------------------------------------------------------------------------
// The seeded schedule
// ---------------------------------------------------------------------------------------------------------------------

type FaultType =
  | "kill"
  | "pause"
  | "apiserver-restart"
  | "blackhole"
  /** The test writes the Lease as kubectl or GitOps would: leaseDurationSeconds 1, keeping the rest. */
  | "foreign-duration"
  /** The test writes an intruder's holderIdentity (who never renews) with renewTime now. */
  | "foreign-holder"
  /** The test deletes the Lease while one of ours leads (a client-go leader would re-create it, see below). */
  | "delete-lease"
interface PlannedFault {
  readonly type: FaultType
  /** pause and blackhole: how long, ms. */
  readonly holdMs: number
  /** blackhole: end it with reset() (connections destroyed) before heal(), instead of heal() alone. */
  readonly reset: boolean
  /** Quiet time before the fault, ms. */
  readonly settleMs: number
}

const planFaults = (seed: number): ReadonlyArray<PlannedFault> => {
  const random = prng(seed)
  const between = (min: number, max: number) => Math.round(min + random() * (max - min))
  const types: Array<FaultType> = [
    ...Array<FaultType>(4).fill("kill"),
    ...Array<FaultType>(4).fill("pause"),
    ...Array<FaultType>(3).fill("blackhole"),
    "foreign-duration",
    "foreign-holder",
    "delete-lease"
  ]
  // Fisher-Yates, then the (slow) API server restart at a random place.
  for (let i = types.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1))
    ;[types[i], types[j]] = [types[j]!, types[i]!]
  }
  types.splice(Math.floor(random() * (types.length + 1)), 0, "apiserver-restart")
  return types.map((type) => ({
    type,
    holdMs: type === "pause" ? between(leaseMs + 500, leaseMs + 2500) : between(leaseMs + 1000, leaseMs + 3000),
    reset: random() < 0.5,
    settleMs: between(300, 2000)
  }))
}

// ---------------------------------------------------------------------------------------------------------------------
// Candidates, restarted when they exit, as a Deployment would
// ---------------------------------------------------------------------------------------------------------------------

interface Slot {
  readonly name: string
  readonly impl: CandidateOptions["impl"]
  readonly kubeconfig: () => string
  generation: number
  current?: Candidate
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))
const ms = (ns: number) => ns / 1e6

let cluster: ControlPlane
let proxy: Proxy
let shuttingDown = false
const all: Array<Candidate> = []
const paused = new Set<Candidate>()
const startTimes: Array<{ impl: string; ms: number }> = []

beforeAll(async () => {
  cluster = await startCluster()
  proxy = await startProxy({ port: Number(new URL(cluster.server).port) })
})
afterAll(async () => {
  shuttingDown = true
  for (const candidate of all) {
    candidate.process.kill("SIGCONT")
    candidate.process.kill("SIGKILL")
  }
  await proxy?.close()
  await cluster?.stop({ clean: true })
})

describe("safety under faults on a real control plane", () => {
  it("never two leaders, and a leader again within the bound, under a seeded fault schedule", async () => {
    const seed = process.env["SAFETY_SEED"] !== undefined
      ? Number(process.env["SAFETY_SEED"])
      : Math.floor(Math.random() * 2 ** 32)
    const plan = planFaults(seed)
    process.stderr.write(`[safety] seed ${seed}: ${plan.map((f) => f.type).join(", ")}\n`)
    const lease = unique("safety")
    const proxied = kubeconfigWithServer(
      cluster.adminKubeconfig,
      `https://127.0.0.1:${proxy.port}`,
      path.join(cluster.dir, "proxied.kubeconfig")
    )

    const slots: Array<Slot> = [
      { name: "ours-px", impl: "ours", kubeconfig: () => proxied, generation: 0 },
      { name: "ours", impl: "ours", kubeconfig: () => cluster.adminKubeconfig, generation: 0 },
      { name: "go-a", impl: "client-go", kubeconfig: () => cluster.adminKubeconfig, generation: 0 },
      { name: "go-b", impl: "client-go", kubeconfig: () => cluster.adminKubeconfig, generation: 0 }
    ]
    const restarts: Record<string, number> = {}
    const launch = async (slot: Slot): Promise<void> => {
      const identity = `${slot.name}-${slot.generation++}`
      const began = monoNow()
      const candidate = await spawnCandidate({
        impl: slot.impl,
        kubeconfig: slot.kubeconfig(),
        name: lease,
        identity,
        ...profile,
        repeat: true
      })
      all.push(candidate)
      slot.current = candidate
      void candidate.waitFor((e) => e.event === "ready", 60_000).then(
        (e) => startTimes.push({ impl: slot.impl, ms: ms(e.mono_ns - began) }),
        () => undefined
      )
      void candidate.exited.then(() => {
        if (shuttingDown) return
        restarts[slot.name] = (restarts[slot.name] ?? 0) + 1
        return launch(slot)
      })
    }

    const lastLeadership = (c: Candidate) =>
      c.events.filter((e) => e.event === "started_leading" || e.event === "stopped_leading").at(-1)
    const isLeading = (c: Candidate) =>
      c.process.exitCode === null && c.process.signalCode === null && !paused.has(c) &&
      lastLeadership(c)?.event === "started_leading"
    const leaders = () => all.filter(isLeading)
    /** The one candidate leading now, once someone does (undefined after timeoutMs). */
    const awaitLeader = async (timeoutMs: number, exclude?: Candidate): Promise<Candidate | undefined> => {
      const deadline = Date.now() + timeoutMs
      while (Date.now() < deadline) {
        const now = leaders().filter((c) => c !== exclude)
        if (now.length === 1) return now[0]
        await sleep(20)
      }
      return undefined
    }

    interface Injected {
      readonly type: FaultType | "handover"
      readonly at: number
      readonly end?: number
      readonly victim?: string
      readonly note?: string
    }
    const injected: Array<Injected> = []
    const staleAfterCont: Array<{ victim: string; ms: number }> = []
    const blackholes: Array<
      { victim: string; stoppedAfterMs: number; next: string; nextLeaderAfterMs: number; marginMs: number }
    > = []
    const missed: Array<string> = []
    /** How long the leader took to stop after a foreign holder write or a deletion of the Lease. */
    const foreignStops: Array<{ victim: string; ms: number }> = []
    const waitMs = gapBoundMs + 5000

    const testStart = monoNow()
    for (const slot of slots) await launch(slot)
    const first = await awaitLeader(30_000)
    expect(first, "someone leads at the start").toBeDefined()
    const observedFrom = leadershipIntervals(all)[0]!.start

    /** Every slot's process is up and in the election (a tsx start takes seconds on two loaded cores). */
    const allReady = async (timeoutMs: number) => {
      const deadline = Date.now() + timeoutMs
      while (Date.now() < deadline) {
        if (slots.every((slot) => slot.current?.events.some((e) => e.event === "ready") === true)) return true
        await sleep(50)
      }
      return false
    }

    /** The faults stop after this long, so that the figures are printed well within the test's timeout. */
    const budgetNs = 170e9
    const overBudget = () => monoNow() - testStart > budgetNs
    for (const fault of plan) {
      if (overBudget()) {
        missed.push(`${fault.type}: not injected, the time budget (${budgetNs / 1e9} s) was spent`)
        continue
      }
      if (!(await allReady(30_000))) missed.push(`${fault.type}: not every candidate was ready after 30 s`)
      await sleep(fault.settleMs)
      const leader = await awaitLeader(waitMs)
      if (leader === undefined) {
        missed.push(`${fault.type}: no single leader to aim at`)
        continue
      }
      switch (fault.type) {
        case "kill": {
          const at = monoNow()
          await kill(leader, "SIGKILL")
          injected.push({ type: "kill", at, victim: leader.identity })
          break
        }
        case "pause": {
          const at = monoNow()
          paused.add(leader)
          leader.process.kill("SIGSTOP")
          await sleep(fault.holdMs)
          const cont = monoNow()
          leader.process.kill("SIGCONT")
          paused.delete(leader)
          injected.push({ type: "pause", at, end: cont, victim: leader.identity, note: `${fault.holdMs} ms` })
          const stopped = await leader.waitFor((e) => e.event === "stopped_leading" && e.mono_ns > at, 10_000).catch(
            () => undefined
          )
          const tookOver = all.some((c) =>
            c !== leader && c.events.some((e) => e.event === "started_leading" && e.mono_ns > at)
          )
          if (stopped === undefined && tookOver) {
            missed.push(`pause: ${leader.identity} never logged stopped_leading after SIGCONT`)
          } else if (stopped !== undefined) {
            staleAfterCont.push({ victim: leader.identity, ms: ms(stopped.mono_ns - cont) })
          }
          break
        }
        case "apiserver-restart": {
          const at = monoNow()
          await cluster.restartApiserver()
          injected.push({ type: "apiserver-restart", at, end: monoNow() })
          break
        }
        case "foreign-duration":
        case "foreign-holder": {
          const at = monoNow()
          const intruder = `intruder-${injected.length}`
          await run(
            cluster.adminKubeconfig,
            Effect.flatMap(
              Leases,
              (leases) =>
                Effect.flatMap(leases.get(lease, "default"), (current) =>
                  leases.replace({
                    ...current,
                    spec: fault.type === "foreign-duration"
                      ? { ...current.spec, leaseDurationSeconds: 1 }
                      : { ...current.spec, holderIdentity: intruder, renewTime: formatMicroTime(Date.now()) }
                  }))
            ).pipe(Effect.retry({ times: 2 }))
          )
          injected.push({ type: fault.type, at, victim: leader.identity })
          if (fault.type === "foreign-holder") {
            const stopped = await leader.waitFor((e) => e.event === "stopped_leading" && e.mono_ns > at, 5_000).catch(
              () => undefined
            )
            if (stopped === undefined) missed.push(`foreign-holder: ${leader.identity} did not stop`)
            else foreignStops.push({ victim: leader.identity, ms: ms(stopped.mono_ns - at) })
          }
          break
        }
        case "delete-lease": {
          // Aim at one of ours: a client-go leader re-creates a deleted Lease at its next renew and leads on, and a
          // client-go follower that created it first would lead beside it (client-go's followers take a deletion for
          // a release); that is client-go's to answer, not what this suite measures.
          let target: Candidate | undefined = leader
          for (let i = 0; i < 8 && target !== undefined && target.identity.startsWith("go-") && !overBudget(); i++) {
            const at = monoNow()
            await kill(target, "SIGTERM")
            injected.push({ type: "handover", at, victim: target.identity })
            await allReady(30_000)
            await sleep(300)
            target = await awaitLeader(waitMs)
          }
          if (target === undefined || target.identity.startsWith("go-")) {
            missed.push(`delete-lease: none of ours came to lead`)
            break
          }
          const at = monoNow()
          await run(cluster.adminKubeconfig, Effect.flatMap(Leases, (leases) => leases.delete(lease, "default")))
          injected.push({ type: "delete-lease", at, victim: target.identity })
          const stopped = await target.waitFor((e) => e.event === "stopped_leading" && e.mono_ns > at, 5_000).catch(
            () => undefined
          )
          if (stopped === undefined) missed.push(`delete-lease: ${target.identity} did not stop`)
          else foreignStops.push({ victim: target.identity, ms: ms(stopped.mono_ns - at) })
          break
        }
        case "blackhole": {
          // Aim at the proxied candidate while it leads: hand over gracefully (SIGTERM, a rolling update) until it
          // does, at most 8 times.
          let target: Candidate | undefined = leader
          for (
            let i = 0;
            i < 8 && target !== undefined && !target.identity.startsWith("ours-px") && !overBudget();
            i++
          ) {
            const at = monoNow()
            await kill(target, "SIGTERM")
            injected.push({ type: "handover", at, victim: target.identity })
            await awaitLeader(waitMs)
            // The replacement joins before the next try, so that the candidates stay four.
            await allReady(30_000)
            await sleep(300)
            target = await awaitLeader(waitMs)
          }
          if (target === undefined || !target.identity.startsWith("ours-px")) {
            missed.push(`blackhole: ours-px did not come to lead`)
            break
          }
          const at = monoNow()
          proxy.blackhole()
          await sleep(fault.holdMs)
          const end = monoNow()
          if (fault.reset) proxy.reset()
          proxy.heal()
          injected.push({
            type: "blackhole",
            at,
            end,
            victim: target.identity,
            note: `${fault.holdMs} ms, then ${fault.reset ? "reset + heal" : "heal"}`
          })
          const stopped = target.events.find((e) => e.event === "stopped_leading" && e.mono_ns > at)
          const next = all.flatMap((c) =>
            c === target ? [] : c.events.filter((e) =>
              e.event === "started_leading" && e.mono_ns > at
            )
          ).sort((a, b) => a.mono_ns - b.mono_ns)[0]
          if (stopped === undefined) missed.push(`blackhole: ${target.identity} still leads after ${fault.holdMs} ms`)
          else if (next === undefined) missed.push(`blackhole: nobody took over from ${target.identity}`)
          else {
            blackholes.push({
              victim: target.identity,
              stoppedAfterMs: ms(stopped.mono_ns - at),
              next: next.identity,
              nextLeaderAfterMs: ms(next.mono_ns - at),
              marginMs: ms(next.mono_ns - stopped.mono_ns)
            })
          }
          break
        }
      }
    }
    // Everyone settles, then the observation ends with a leader.
    await awaitLeader(waitMs)
    await sleep(1000)
    const observedUntil = monoNow()

    // ---- The checker ----
    const intervals = leadershipIntervals(all, observedUntil)
    const pairs = overlappingPairs(intervals)
    const pauses = injected.filter((f) => f.type === "pause")
    /** An overlap a pause explains: the first is the paused one, the other took over after the pause began. */
    const pauseOf = (pair: (typeof pairs)[number]) =>
      pauses.find((p) =>
        p.victim === pair.first.identity && pair.first.start < p.at && pair.second.start > p.at &&
        pair.first.end <= p.end! + lateStopBoundFor(pair.first.identity) * 1e6
      )
    const explainedByPause = (pair: (typeof pairs)[number]) => pauseOf(pair) !== undefined
    const pauseOverlaps = pairs.filter(explainedByPause)
    /**
     * A client-go leader resumed after its Lease expired releases it even though another now holds it: its release
     * reads the Lease for its resourceVersion but judges "am I the leader" on the record it observed before the pause
     * (client-go's LeaderElector.release), so it writes holder "" over the live leader's record. The next candidate
     * takes the freed Lease at once while the live leader sees the same write and stops: a race of milliseconds that
     * no protocol of the live leader can win for sure. Accepted, and printed as a FINDING, when the second leader
     * started within staleBoundMs of the SIGCONT of a paused client-go process and the first stopped within
     * staleBoundMs of that start.
     */
    const goReleaseOf = (pair: (typeof pairs)[number]) =>
      pauses.find((p) =>
        (p.victim ?? "").startsWith("go-") && p.victim !== pair.first.identity && pair.second.start >= p.end! &&
        pair.second.start <= p.end! + staleBoundMs * 1e6 && pair.first.end <= pair.second.start + staleBoundMs * 1e6
      )
    const goReleaseOverlaps = pairs.filter((pair) => !explainedByPause(pair) && goReleaseOf(pair) !== undefined)
    const violations = pairs.filter((pair) => !explainedByPause(pair) && goReleaseOf(pair) === undefined)

    const restartsWindows = injected.filter((f) => f.type === "apiserver-restart")
    const excused = (gap: { start: number; end: number }) =>
      restartsWindows.reduce((sum, w) => sum + Math.max(0, Math.min(gap.end, w.end!) - Math.max(gap.start, w.at)), 0)
    const gaps = leaderlessGaps(intervals, observedFrom, observedUntil).map((gap) => ({
      ...gap,
      ms: ms(gap.end - gap.start),
      countedMs: ms(gap.end - gap.start - excused(gap)),
      after: gap.after ?? "(nobody)",
      fault: injected.filter((f) => f.at <= gap.start + 1e9).at(-1),
      // An intruder's holder write holds the Lease one more lease duration (it never renews), and so does a deletion
      // (followers of ours wait out the expiry they counted, docs/lease.md): such a gap may be longer by that.
      allowedMs: gapBoundMs +
        (injected.some((f) =>
            (f.type === "foreign-holder" || f.type === "delete-lease") && f.at <= gap.end &&
            f.at >= gap.start - gapBoundMs * 1e6
          )
          ? leaseMs
          : 0)
    }))
    const longest = [...gaps].sort((a, b) => b.countedMs - a.countedMs)[0]
    const longestRaw = [...gaps].sort((a, b) => b.ms - a.ms)[0]

    // ---- Figures ----
    const rel = (ns: number) => `t+${((ns - testStart) / 1e9).toFixed(2)} s`
    const byType = injected.reduce<Record<string, number>>(
      (acc, f) => ({ ...acc, [f.type]: (acc[f.type] ?? 0) + 1 }),
      {}
    )
    const transitions = all.flatMap((c) => c.events).filter((e) => e.event === "started_leading").length
    const lines = [
      `seed ${seed} (replay: SAFETY_SEED=${seed}); profile ${profile.leaseDuration}/${profile.renewDeadline}/${profile.retryPeriod}`,
      `faults injected: ${JSON.stringify(byType)}`,
      ...injected.map((f) =>
        `  ${rel(f.at)} ${f.type}${f.victim === undefined ? "" : ` of ${f.victim}`}${
          f.end === undefined ? "" : ` for ${ms(f.end - f.at).toFixed(0)} ms`
        }${f.note === undefined ? "" : ` (${f.note})`}`
      ),
      `transitions (started_leading) seen: ${transitions}; processes: ${all.length}; restarts ${
        JSON.stringify(restarts)
      }`,
      `candidate start to ready, ms: ours ${
        startTimes.filter((s) => s.impl === "ours").map((s) => s.ms.toFixed(0)).join(" ")
      }; client-go ${startTimes.filter((s) => s.impl !== "ours").map((s) => s.ms.toFixed(0)).join(" ")}`,
      longest === undefined
        ? "leaderless gaps: none"
        : `longest leaderless gap (restart window excluded): ${longest.countedMs.toFixed(0)} ms at ${
          rel(longest.start)
        }, ${longest.before ?? "?"} -> ${longest.after}, after ${
          longest.fault?.type ?? "no fault"
        } (bound ${gapBoundMs} ms)`,
      longestRaw === undefined ?
        "" :
        `longest leaderless gap, raw: ${longestRaw.ms.toFixed(0)} ms at ${rel(longestRaw.start)} (${
          longestRaw.before ?? "?"
        } -> ${longestRaw.after})`,
      ...restartsWindows.map((w) => {
        const next = intervals.find((i) => i.end > w.end! && i.start <= w.end!) ??
          intervals.find((i) => i.start > w.end!)
        return `apiserver restart: down/not ready for ${ms(w.end! - w.at).toFixed(0)} ms; ${
          next === undefined
            ? "nobody led afterwards"
            : next.start <= w.end!
            ? `${next.identity} was leading when it was ready again`
            : `${next.identity} led ${ms(next.start - w.end!).toFixed(0)} ms after it was ready again`
        }`
      }),
      `blackholes: ${
        blackholes.map((b) =>
          `${b.victim} stopped ${b.stoppedAfterMs.toFixed(0)} ms after, next leader ${b.next} ${
            b.nextLeaderAfterMs.toFixed(0)
          } ms after (margin ${b.marginMs.toFixed(0)} ms)`
        ).join("; ") || "none"
      }`,
      `leaders stopped after an intruder's write or a deletion: ${
        foreignStops.map((s) => `${s.victim} ${s.ms.toFixed(1)} ms`).join("; ") || "none"
      }`,
      `paused leaders, stopped_leading after SIGCONT: ${
        staleAfterCont.map((s) => `${s.victim} ${s.ms.toFixed(1)} ms`).join("; ") || "none"
      }`,
      ...pauseOverlaps.map((p) =>
        `FINDING (pause): ${p.first.identity} believed it led across its pause while ${p.second.identity} led: overlap ${
          ms(p.overlapNs).toFixed(0)
        } ms, of which after SIGCONT ${ms(p.first.end - pauseOf(p)!.end!).toFixed(1)} ms`
      ),
      ...goReleaseOverlaps.map((p) =>
        `FINDING (client-go release after SIGCONT): ${
          goReleaseOf(p)!.victim
        } released the Lease of ${p.first.identity}, which stopped ${
          ms(p.overlapNs).toFixed(1)
        } ms after ${p.second.identity} took it`
      ),
      ...violations.map((p) =>
        `OVERLAP: ${p.first.identity} [${rel(p.first.start)}, ${rel(p.first.end)}] and ${p.second.identity} [${
          rel(p.second.start)
        }, ${rel(p.second.end)}]: ${ms(p.overlapNs).toFixed(1)} ms`
      ),
      ...missed.map((m) => `MISSED: ${m}`)
    ].filter((line) => line !== "")
    console.log(`safety figures:\n${lines.join("\n")}`)
    process.stderr.write(`[safety] ${lines.join("\n[safety] ")}\n`)

    // ---- Assertions ----
    expect(violations, "no two leadership intervals overlap").toEqual([])
    if (strictPause) expect(pauseOverlaps, "SAFETY_STRICT_PAUSE: no overlap even across a pause").toEqual([])
    expect(
      staleAfterCont.filter((s) => s.ms > lateStopBoundFor(s.victim)),
      `a resumed leader stops within ${staleBoundMs} ms (client-go: ${clientGoLateStopMs} ms)`
    ).toEqual([])
    expect(missed, "every fault found its target and ended as expected").toEqual([])
    expect(
      gaps.filter((gap) => gap.countedMs > gap.allowedMs),
      `no leaderless stretch over ${gapBoundMs} ms (+ ${leaseMs} ms after an intruder's write or a deletion)`
    ).toEqual([])
    expect(
      foreignStops.filter((s) => s.ms > lateStopBoundFor(s.victim)),
      `ours stop within ${staleBoundMs} ms (client-go: ${clientGoLateStopMs} ms)`
    ).toEqual([])
    // The blackholed leader stops by its own deadline (renewDeadline after its last renew began, which was before
    // the blackhole), and before anyone else starts.
    expect(
      blackholes.filter((b) => b.stoppedAfterMs > renewDeadlineMs + staleBoundMs || b.marginMs <= 0),
      "a blackholed leader stops by its deadline, before the next leader starts"
    ).toEqual([])
    expect(byType["blackhole"] ?? 0).toBeGreaterThan(0)
    expect(transitions).toBeGreaterThanOrEqual(plan.length)
  }, 240_000)
})
