/**
 * The Lease safety model without Effect (docs/safety.md), shared by both editions' `simulateLease`
 * (`test/safety/leaseSim.ts`, `effect4/test/safety/leaseSim.ts`): the scenario and its profiles, the run's horizon
 * and schedule, the fault windows of each slot and what they decide for one request, the foreign writes, and the
 * invariants checked after the run.
 */
import type { LeaseRecord } from "../../src/internal/lease/record.js"
import {
  activePieces,
  checkRates,
  type Interval,
  overlaps,
  type Piece,
  type RateLimits,
  recovery,
  termViolations
} from "./intervals.js"
import { blockedUntil, ceilDiv, merge, type ProcessFault, refMillis, type Window, within } from "./timeline.js"

export interface Profile {
  readonly name: string
  readonly leaseDuration: number
  readonly renewDeadline: number
  readonly retryPeriod: number
  /** The library's default: renewDeadline / 2. */
  readonly requestTimeout: number
}

export const fast: Profile = {
  name: "fast 4/3/1 s",
  leaseDuration: 4000,
  renewDeadline: 3000,
  retryPeriod: 1000,
  requestTimeout: 1500
}
export const defaults: Profile = {
  name: "defaults 15/10/2 s",
  leaseDuration: 15000,
  renewDeadline: 10000,
  retryPeriod: 2000,
  requestTimeout: 5000
}

/** The documented drift bound: every clock runs at a rate in [1 - d, 1 + d] of the reference clock. */
export const maxDrift = 0.1
export const minPermille = 1000 - maxDrift * 1000
export const maxPermille = 1000 + maxDrift * 1000

export type Action =
  | { readonly kind: "start"; readonly at: number; readonly slot: number; readonly sameIdentity: boolean }
  | { readonly kind: "stop" | "crash"; readonly at: number; readonly slot: number }
  | {
    readonly kind: "errors"
    readonly at: number
    readonly slot: number
    readonly duration: number
    readonly percent: number
    readonly reason: "ServerError" | "Timeout"
  }
  | {
    readonly kind: "latency"
    readonly at: number
    readonly slot: number
    readonly duration: number
    readonly max: number
  }
  | {
    readonly kind: "conflicts"
    readonly at: number
    readonly slot: number
    readonly duration: number
    readonly percent: number
  }
  | {
    readonly kind: "lostResponses"
    readonly at: number
    readonly slot: number
    readonly duration: number
    readonly percent: number
  }
  | {
    readonly kind: "partition"
    readonly at: number
    readonly slot: number
    readonly duration: number
    readonly dropWatch: boolean
  }
  | { readonly kind: "pause"; readonly at: number; readonly slot: number; readonly duration: number }
  | { readonly kind: "dropWatches"; readonly at: number }
  /** Someone else (kubectl, GitOps) writes one field of the record, or a label, keeping the rest. */
  | { readonly kind: "foreignWrite"; readonly at: number; readonly field: ForeignField; readonly value: number }
  /** Someone else deletes the Lease; it may come back: empty, or as it was (a restored snapshot). */
  | { readonly kind: "deleteLease"; readonly at: number; readonly recreate: "no" | "empty" | "snapshot" }
  | ProcessFault

export type ForeignField = "holder" | "duration" | "renewTime" | "acquireTime" | "transitions" | "labels"

export interface Scenario {
  readonly seed: number
  readonly profile: Profile
  readonly slots: number
  /** Each slot's clock rate in permille of the reference clock. */
  readonly permille: ReadonlyArray<number>
  /** When each slot's first process starts (null: only on a `start` action); slot 0 always starts. */
  readonly initial: ReadonlyArray<number | null>
  readonly actions: ReadonlyArray<Action>
  /** How many election loops each process runs at once on its one LeaderElection service (1 to 3). */
  readonly lanes: number
}

export interface Outcome {
  readonly violations: ReadonlyArray<string>
  readonly intervals: ReadonlyArray<Interval>
  /** The last fault: no fault, start or stop after it. */
  readonly quietFrom: number
  readonly livenessBound: number
  /** Reference ms from quietFrom until someone leads for good. */
  readonly recoveredAfter: number | undefined
  readonly faults: number
  readonly faultsByClass: Readonly<Record<string, number>>
  readonly endOfRun: number
  /** The most requests one process sent within each rate limit's window (`rateLimits`). */
  readonly peakRequests: ReadonlyArray<number>
  /** Processes that ended on an injected defect, interruption or rotated credential, as real ones would. */
  readonly exits: number
}

/** A process that ended on an injected fault is restarted this long after (reference ms), as its container would be. */
export const restartDelay = 1_000

/** One lease duration on the slowest clock of the run: by then a holder has passed its deadline. */
const leaseOnSlowestClock = (scenario: Scenario) =>
  refMillis(Math.min(...scenario.permille), scenario.profile.leaseDuration)

/**
 * When a candidate may start at `now`, after the Lease was deleted by hand at `deletions` (and not re-created with its
 * record): a candidate that starts then never saw it held and, like client-go's, takes it at once, while the holder
 * may not have seen the deletion (its watch down, a partition, a pause) and leads on until its deadline. No
 * follower's rule covers that (docs/lease.md), so the model puts such a start (or restart) off until one lease
 * duration on the slowest clock after the deletion: by then the holder has seen it, passed its deadline, or
 * re-created the Lease by a renew.
 */
export const startAllowedAt = (scenario: Scenario, deletions: ReadonlyArray<number>, now: number): number => {
  const window = leaseOnSlowestClock(scenario)
  return Math.max(now, ...deletions.filter((at) => at <= now && now < at + window).map((at) => at + window))
}

/** Faults during which, and one lease duration after which, some candidate may not see a change of the Lease. */
const blinding: ReadonlyArray<Action["kind"]> = ["partition", "pause", "watchFlap", "dropWatches", "latency"]

/**
 * Whether a deletion of the Lease by hand (without its record re-created) at `now` could go unseen: by its holder,
 * which then leads on until its deadline, and by a candidate whose view is older than the last takeover, which then
 * takes the missing Lease as never held and creates it beside that holder. No follower's rule covers that short of
 * delaying every first start (docs/lease.md), so the model makes no such deletion then.
 */
export const deletionMayGoUnseen = (scenario: Scenario, now: number): boolean => {
  const window = leaseOnSlowestClock(scenario)
  return scenario.actions.some((a) => blinding.includes(a.kind) && a.at <= now && now < a.at + durationOf(a) + window)
}

/** The rate bounds of this model (docs/safety.md derives them). */
export const leaseRateLimits: RateLimits = [
  { window: 5_000, bound: 60 },
  { window: 30_000, bound: 120 }
]

export const namespace = "ops"
export const lockName = "safety-lease"
export const resource = "leases.coordination.k8s.io"

/** Slots 0 to 4 name a slot (modulo the number of slots); 5 means whoever leads when the action happens. */
export const leaderSlot = 5

const durationOf = (action: Action) => "duration" in action ? action.duration : 0

/** The liveness bound after the last fault: see docs/safety.md. */
export const livenessBound = (profile: Profile, slowestPermille: number) =>
  ceilDiv(
    Math.ceil(profile.leaseDuration + profile.requestTimeout + 2.2 * profile.retryPeriod) * 1000,
    slowestPermille
  ) + 10

/** The run's shape: the last fault, each slot's clock rate, the liveness bound and the end of the run. */
export const leaseHorizon = (scenario: Scenario) => {
  const { actions, profile } = scenario
  const quietFrom = Math.max(0, ...scenario.initial.map((at) => at ?? 0), ...actions.map((a) => a.at + durationOf(a)))
  const permille = Array.from({ length: scenario.slots }, (_, slot) => scenario.permille[slot] ?? 1000)
  const bound = livenessBound(profile, Math.min(...permille))
  const endOfRun = quietFrom + bound + 2 * profile.leaseDuration
  return { quietFrom, permille, bound, endOfRun }
}

/** A slot's own clock starts far from the others' (a whole number of milliseconds; see `Drift`). */
export const clockOffset = (scenario: Scenario, slot: number) => 1_000_000 * (slot + 1) + (scenario.seed & 0xffff)

/** What the driver does, in order: the initial starts, the actions, and at the last fault a start if none runs. */
export type Step = Action | { readonly kind: "ensureRunning"; readonly at: number }

export const leaseSchedule = (scenario: Scenario, quietFrom: number): Array<Step> =>
  [
    ...scenario.initial.flatMap((at, slot) =>
      slot < scenario.slots && (at !== null || slot === 0)
        ? [{ kind: "start" as const, at: at ?? 0, slot, sameIdentity: false }]
        : []
    ),
    ...scenario.actions,
    { kind: "ensureRunning" as const, at: quietFrom }
  ].sort((a, b) => a.at - b.at)

/** The slot an action targets: its own (modulo the slots), or whoever leads now (any slot when nobody does). */
export const targetSlot = (scenario: Scenario, intervals: ReadonlyArray<Interval>, slot: number) => {
  if (slot !== leaderSlot) return slot % scenario.slots
  const leading = intervals.find((interval) => interval.end === undefined)
  return leading === undefined ? (scenario.seed >>> 0) % scenario.slots : leading.slot
}

/** Fault windows of one slot, added as their actions happen (an action may target whoever leads at that moment). */
export interface SlotFaults {
  blocked: Array<Window>
  pauses: Array<Window>
  readonly errors: Array<Extract<Action, { kind: "errors" }>>
  readonly latency: Array<Extract<Action, { kind: "latency" }>>
  readonly conflicts: Array<Extract<Action, { kind: "conflicts" }>>
  readonly lostResponses: Array<Extract<Action, { kind: "lostResponses" }>>
  readonly defects: Array<Extract<Action, { kind: "defects" }>>
  readonly watchFlaps: Array<Extract<Action, { kind: "watchFlap" }>>
  readonly lateCommits: Array<Extract<Action, { kind: "lateCommit" }>>
}

export const slotFaults = (slots: number): Array<SlotFaults> =>
  Array.from({ length: slots }, () => ({
    blocked: [],
    pauses: [],
    errors: [],
    latency: [],
    conflicts: [],
    lostResponses: [],
    defects: [],
    watchFlaps: [],
    lateCommits: []
  }))

/** The actions that open a window of faults on one slot. */
export type WindowFault = Extract<
  Action,
  {
    kind:
      | "pause"
      | "partition"
      | "errors"
      | "latency"
      | "conflicts"
      | "lostResponses"
      | "defects"
      | "watchFlap"
      | "lateCommit"
  }
>

/** Records a window fault on its slot. A pause also blocks the slot's requests, as a partition does. */
export const addWindowFault = (mine: SlotFaults, action: WindowFault): void => {
  const window = { from: action.at, to: action.at + action.duration }
  switch (action.kind) {
    case "pause":
      mine.pauses = merge([...mine.pauses, window])
      mine.blocked = merge([...mine.blocked, window])
      return
    case "partition":
      mine.blocked = merge([...mine.blocked, window])
      return
    case "errors":
      return void mine.errors.push(action)
    case "latency":
      return void mine.latency.push(action)
    case "conflicts":
      return void mine.conflicts.push(action)
    case "lostResponses":
      return void mine.lostResponses.push(action)
    case "defects":
      return void mine.defects.push(action)
    case "watchFlap":
      return void mine.watchFlaps.push(action)
    case "lateCommit":
      return void mine.lateCommits.push(action)
  }
}

/**
 * What the slot's faults do to a request once a partition lets it through (at `t`): it dies or is interrupted
 * from inside, or takes `pre` ms before the server performs it and `post` ms after. Draws from the process's PRNG
 * in a fixed order; `count` counts the faults that fire.
 */
export type Arrival =
  | { readonly _tag: "Defect" }
  | { readonly _tag: "Interrupt" }
  | { readonly _tag: "Travel"; readonly pre: number; readonly post: number }

export const arrive = (
  mine: SlotFaults,
  t: number,
  rnd: () => number,
  count: (kind: string) => void
): Arrival => {
  const defect = mine.defects.find((a) => within(a, t))
  if (defect !== undefined && rnd() * 100 < defect.percent) {
    count("defects")
    return { _tag: defect.interrupt ? "Interrupt" : "Defect" }
  }
  const latency = mine.latency.find((a) => within(a, t))
  const total = latency === undefined ? 0 : Math.floor(rnd() * latency.max)
  if (total > 0) count("latency")
  const pre = Math.floor(rnd() * total)
  return { _tag: "Travel", pre, post: total - pre }
}

/**
 * What happens to the request at the server, after its `pre` latency (the windows are those of `t`, when it
 * arrived): an injected error, a conflict (writes), a late commit (writes: the client times out at once, the server
 * commits `delay` ms later), or it is performed, its response then lost (`lose`, writes) or not.
 */
export type Verdict =
  | { readonly _tag: "Error"; readonly reason: "ServerError" | "Timeout" }
  | { readonly _tag: "Conflict" }
  | { readonly _tag: "LateCommit"; readonly delay: number }
  | { readonly _tag: "Perform"; readonly lose: boolean }

export const judge = (
  mine: SlotFaults,
  t: number,
  isWrite: boolean,
  rnd: () => number,
  count: (kind: string) => void
): Verdict => {
  const error = mine.errors.find((a) => within(a, t))
  if (error !== undefined && rnd() * 100 < error.percent) {
    count("errors")
    return { _tag: "Error", reason: error.reason }
  }
  const conflict = mine.conflicts.find((a) => within(a, t))
  if (isWrite && conflict !== undefined && rnd() * 100 < conflict.percent) {
    count("conflicts")
    return { _tag: "Conflict" }
  }
  const late = mine.lateCommits.find((a) => within(a, t))
  if (isWrite && late !== undefined && rnd() * 100 < late.percent) {
    count("lateCommit")
    return { _tag: "LateCommit", delay: late.delay }
  }
  const lost = mine.lostResponses.find((a) => within(a, t))
  return { _tag: "Perform", lose: isWrite && lost !== undefined && rnd() * 100 < lost.percent }
}

/**
 * The part of the record (or the labels) someone else writes, keeping the rest: `intruder` names a holder that
 * never renews, `time` is `value` seconds after a fixed instant, as a MicroTime.
 */
export const foreignPatch = (
  action: Extract<Action, { kind: "foreignWrite" }>,
  profile: Profile,
  intruder: string,
  time: string
): { readonly spec: LeaseRecord } | { readonly labels: Record<string, string> } => {
  const fields: Record<Exclude<ForeignField, "labels">, LeaseRecord> = {
    holder: { holderIdentity: intruder },
    // 0 (none) to a little under ours: shorter is what can hurt.
    duration: { leaseDurationSeconds: action.value % Math.floor(profile.leaseDuration / 1000) },
    renewTime: { renewTime: time },
    acquireTime: { acquireTime: time },
    transitions: { leaseTransitions: action.value }
  }
  return action.field === "labels" ? { labels: { foreign: String(action.value) } } : { spec: fields[action.field] }
}

/** The epoch milliseconds a foreign write of `value` puts in a time field. */
export const foreignTime = (value: number) => 1_700_000_000_000 + value * 1000

/** What the invariants of a run are checked on, once the driver has reached the end of the run. */
export interface LeaseRun {
  readonly scenario: Scenario
  readonly permille: ReadonlyArray<number>
  readonly faults: ReadonlyArray<SlotFaults>
  readonly intervals: ReadonlyArray<Interval>
  readonly incarnations: ReadonlyArray<{
    readonly slot: number
    readonly identity: string
    /** Reference instants of every request it sent, watch openings included. */
    readonly requests: ReadonlyArray<number>
    /** Reference instants at which requests writing it as the holder started, that answered with success. */
    readonly writes: ReadonlyArray<number>
  }>
  /** Reference instants of foreign writes and deletions of the Lease, for the rate bound. */
  readonly foreignAt: ReadonlyArray<number>
  readonly quietFrom: number
  /** Reference instants at which processes that a fault ended (a defect, a 401) were restarted. */
  readonly restartedAt: ReadonlyArray<number>
  readonly bound: number
  readonly endOfRun: number
}

/** Invariants 1 to 5 of docs/safety.md: their violations, when someone leads for good, and the peak rates. */
export const checkLeaseRun = (run: LeaseRun) => {
  const { endOfRun, faults, intervals, permille, quietFrom } = run
  const { profile } = run.scenario
  const violations: Array<string> = []

  // Invariant 1: no two leaders on the reference clock (pauses cut out; see activePieces).
  const pieces: Array<Piece> = intervals.flatMap((interval) =>
    activePieces(interval, endOfRun, faults[interval.slot]!.pauses)
  )
  violations.push(...overlaps(pieces))

  // Invariant 2: each leader stops no later than renewDeadline (on its clock) after its last successful renew began.
  for (const interval of intervals) {
    const inc = run.incarnations[interval.incarnation]!
    const end = interval.end?.t ?? endOfRun
    const last = Math.max(...inc.writes.filter((w) => w <= end))
    if (!Number.isFinite(last)) {
      violations.push(`${inc.identity} led from ${interval.start.t}ms without a successful write`)
      continue
    }
    const deadline = last + refMillis(permille[inc.slot]!, profile.renewDeadline) + 1
    const allowed = blockedUntil(faults[inc.slot]!.pauses, deadline)
    if (end > allowed) {
      violations.push(
        `${inc.identity} led until ${end}ms, past its deadline ${allowed}ms (last successful renew began at ${last}ms, clock rate ${
          permille[inc.slot]
        }‰)`
      )
    }
  }

  // Invariant 3: after the last fault someone leads within the bound, and for good. A process that a fault ended is
  // restarted a second later and counts the Lease afresh (as client-go's does): the bound runs from that restart
  // when it comes later (a rotated credential fails only at the process's next request, which may be an expiry away).
  const settledFrom = Math.max(quietFrom, ...run.restartedAt)
  const recovered = recovery(pieces, settledFrom, endOfRun)
  if (recovered === undefined) violations.push(`nobody leads at the end of the run (${endOfRun}ms)`)
  else if (recovered - settledFrom > run.bound) {
    violations.push(
      `leaderless until ${recovered}ms: ${
        recovered - settledFrom
      }ms after the last fault or restart (${settledFrom}ms), bound ${run.bound}ms`
    )
  }

  // Invariant 4: the term strictly grows with each new leadership, across deletions and re-creations too.
  violations.push(...termViolations(intervals))

  // Invariant 5: every process's request rate stays bounded, whatever the faults.
  const rates = checkRates(
    leaseRateLimits,
    run.incarnations.map((inc) => ({ name: inc.identity, requests: inc.requests })),
    run.foreignAt,
    run.scenario.lanes
  )
  violations.push(...rates.violations)

  return {
    violations,
    recoveredAfter: recovered === undefined ? undefined : recovered - settledFrom,
    peaks: rates.peaks
  }
}

/**
 * Invariant 6: no lock left behind. Once every process still running has stopped gracefully, the Lease must name
 * none of them (released: an empty holder), whatever happened before. A process whose credentials were rotated away
 * cannot release: its Lease expires, as documented.
 */
export const leaseLeftBehind = (
  stopped: ReadonlyArray<{ readonly identity: string; readonly unauthorized: boolean }>,
  holder: string
): Array<string> =>
  stopped.some((inc) => inc.identity === holder && !inc.unauthorized)
    ? [`the Lease still names ${holder} after it stopped gracefully`]
    : []
