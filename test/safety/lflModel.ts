/**
 * The leader-for-life safety model without Effect (docs/safety.md), shared by both editions'
 * `simulateLeaderForLife` (`test/safety/lflSim.ts`, `effect4/test/safety/lflSim.ts`): the scenario, the run's
 * horizon and schedule, the fault windows and what they decide for one request, and the invariants checked after the
 * run.
 */
import {
  activePieces,
  checkRates,
  type Interval,
  overlaps,
  type RateLimits,
  recovery,
  termViolations
} from "./intervals.js"
import type { ProcessFault } from "./timeline.js"

export type LflAction =
  | { readonly kind: "start"; readonly at: number; readonly slot: number }
  /** Deletes a Pod (slot 4: the leader's): its process ends (crash: without releasing), then the Pod object goes. */
  | { readonly kind: "deletePod"; readonly at: number; readonly slot: number; readonly crash: boolean }
  | {
    readonly kind: "errors"
    readonly at: number
    readonly slot: number
    readonly duration: number
    readonly percent: number
  }
  /**
   * The slot's Pod is evicted: its process dies, its Pod object stays (phase Failed), so the garbage collector keeps
   * the lock; with `finalizerFor` > 0 a finalizer on the lock keeps it that long after a standby deletes it.
   */
  | { readonly kind: "evict"; readonly at: number; readonly slot: number; readonly finalizerFor: number }
  /** Someone edits the lock's owner reference to a bystander Pod (no candidate), which goes `duration` later. */
  | { readonly kind: "editOwner"; readonly at: number; readonly duration: number }
  /** Someone deletes the lock; with `recreate`, a new one owned by a bystander Pod that goes 2 s later. */
  | { readonly kind: "deleteLock"; readonly at: number; readonly recreate: boolean }
  | ProcessFault

export interface LflScenario {
  readonly seed: number
  readonly slots: number
  readonly actions: ReadonlyArray<LflAction>
  /** Election loops per process on its one LeaderElection service. */
  readonly lanes: number
}

export interface LflOutcome {
  readonly violations: ReadonlyArray<string>
  readonly intervals: ReadonlyArray<Interval>
  /** Deletions of the leader's Pod after which a standby had to take over at once. */
  readonly instantTakeovers: number
  readonly faultsByClass: Readonly<Record<string, number>>
  readonly peakRequests: ReadonlyArray<number>
  readonly exits: number
}

/** The rate bounds of this model (docs/safety.md derives them). */
export const lflRateLimits: RateLimits = [
  { window: 5_000, bound: 60 },
  { window: 30_000, bound: 240 }
]

export const namespace = "ops"
export const lockName = "safety-lock"
export const lflLeaderSlot = 4
/** After an injected error, the retry schedule may be sleeping up to 30 s x 1.2 before its next attempt. */
export const backoffCap = 36_000
/** A process that ended on an injected fault restarts in its Pod this long after (reference ms). */
export const restartDelay = 1_000
/** A bystander Pod that owns a re-created lock goes this long after. */
export const recreatedOwnerLifetime = 2_000

/** When an action's effects are over: its window, a finalizer's hold, a re-created lock's bystander. */
const endOf = (a: LflAction) =>
  a.at + ("duration" in a ? a.duration : 0) + (a.kind === "evict" ? a.finalizerFor : 0) +
  (a.kind === "deleteLock" && a.recreate ? recreatedOwnerLifetime : 0)

/** The last fault's end, and the end of the run: the longest backoff and 5 s after it. */
export const lflHorizon = (scenario: LflScenario) => {
  const quietFrom = Math.max(0, ...scenario.actions.map(endOf))
  return { quietFrom, endOfRun: quietFrom + backoffCap + 5_000 }
}

/** What the driver does, in order: slot 0 starts at 0, then the actions. */
export const lflSchedule = (scenario: LflScenario): Array<LflAction> =>
  [{ kind: "start" as const, at: 0, slot: 0 }, ...scenario.actions].sort((a, b) => a.at - b.at)

/** The slot an action targets: its own (modulo the slots), or the leader's (slot 0 when nobody leads). */
export const lflTargetSlot = (scenario: LflScenario, intervals: ReadonlyArray<Interval>, action: LflAction) => {
  const target = "slot" in action ? action.slot : 0
  return target === lflLeaderSlot
    ? (intervals.find((interval) => interval.end === undefined)?.slot ?? 0)
    : target % scenario.slots
}

/** A window of injected lock errors on one slot. */
export interface ErrorWindow {
  readonly from: number
  readonly to: number
  readonly percent: number
}

/**
 * The fault windows of the scenario, as they were resolved to slots when their actions happened: the windows of
 * `kind` on `slot` open at `now`.
 */
export const activeWindows = <K extends LflAction["kind"]>(
  scenario: LflScenario,
  resolved: ReadonlyMap<LflAction, number>,
  kind: K,
  slot: number,
  now: number
) =>
  scenario.actions.filter((a): a is Extract<LflAction, { kind: K }> =>
    a.kind === kind && "slot" in a && resolved.get(a) === slot && "duration" in a && a.at <= now &&
    now < a.at + a.duration
  )

/**
 * What the slot's faults do to one request of a process (at `now`): it dies or is interrupted from inside, or
 * (a create of the lock) times out on the client at once and is committed `delay` ms later; undefined: none.
 * Draws from the process's PRNG in a fixed order; `count` counts the faults that fire.
 */
export type Injected =
  | { readonly _tag: "Defect" }
  | { readonly _tag: "Interrupt" }
  | { readonly _tag: "LateCommit"; readonly delay: number }

export const injectInto = (
  scenario: LflScenario,
  resolved: ReadonlyMap<LflAction, number>,
  slot: number,
  now: number,
  createsLock: boolean,
  rnd: () => number,
  count: (kind: string) => void
): Injected | undefined => {
  const defect = activeWindows(scenario, resolved, "defects", slot, now)[0]
  if (defect !== undefined && rnd() * 100 < defect.percent) {
    count("defects")
    return { _tag: defect.interrupt ? "Interrupt" : "Defect" }
  }
  const late = activeWindows(scenario, resolved, "lateCommit", slot, now)[0]
  if (createsLock && late !== undefined && rnd() * 100 < late.percent) {
    count("lateCommit")
    return { _tag: "LateCommit", delay: late.delay }
  }
  return undefined
}

/** Whether a lock request at `now` fails with an injected `ServerError` (drawn from the process's PRNG). */
export const lockErrorAt = (
  windows: ReadonlyArray<ErrorWindow>,
  now: number,
  rnd: () => number,
  count: (kind: string) => void
): boolean => {
  const window = windows.find((w) => w.from <= now && now < w.to)
  if (window !== undefined && rnd() * 100 < window.percent) {
    count("errors")
    return true
  }
  return false
}

/**
 * Whether some watch may be failing at `now` (in a flap or an errors window, which fails the GET each connection
 * starts with, or waiting out its reconnect backoff after one): leader for
 * life cannot stop a leader that cannot see its lock (docs/leader-for-life.md), so no deletion of the lock by hand
 * then, and no edit of its owner either (the garbage collector deletes it when the new owner goes, which can be
 * before the leader's watch reconnects).
 */
export const watchesMayFail = (scenario: LflScenario, now: number) =>
  scenario.actions.some((a) =>
    (a.kind === "watchFlap" || a.kind === "errors") && a.at <= now && now < a.at + a.duration + backoffCap
  )

/**
 * Whether the deletion of the leader's Pod at `now` must hand over in that same instant: a standby runs and has
 * waited without errors for longer than the longest backoff, so it takes over on the watch event.
 */
export const handoverDue = (
  scenario: LflScenario,
  errorWindows: ReadonlyArray<ReadonlyArray<ErrorWindow>>,
  lastInjectedAt: number,
  now: number,
  wasLeading: boolean,
  standby: boolean
): boolean => {
  const quiet = lastInjectedAt < now - backoffCap &&
    errorWindows.every((windows) => windows.every((w) => w.to <= now - backoffCap || w.from > now)) &&
    scenario.actions.every((a) =>
      a.kind === "start" || a.kind === "deletePod" || endOf(a) <= now - backoffCap || a.at > now
    )
  return wasLeading && standby && quiet
}

/** What the invariants of a run are checked on, once the driver has reached the end of the run. */
export interface LflRun {
  readonly scenario: LflScenario
  readonly intervals: ReadonlyArray<Interval>
  readonly incarnations: ReadonlyArray<{ readonly pod: string; readonly requests: ReadonlyArray<number> }>
  /** Reference instants at which the leader's Pod was deleted and a standby had to lead at once. */
  readonly takeoversDue: ReadonlyArray<number>
  /** Reference instants of foreign edits and deletions of the lock, for the rate bound. */
  readonly foreignAt: ReadonlyArray<number>
  readonly quietFrom: number
  readonly endOfRun: number
  /** Whether a process still runs at the end of the run. */
  readonly running: boolean
}

/** The invariants of docs/safety.md for leader for life, but the lock left behind: violations and peak rates. */
export const checkLflRun = (run: LflRun) => {
  const { endOfRun, intervals } = run
  const violations: Array<string> = []
  const pieces = intervals.flatMap((interval) => activePieces(interval, endOfRun, []))
  violations.push(...overlaps(pieces))
  for (const at of run.takeoversDue) {
    if (!intervals.some((interval) => interval.start.t === at)) {
      violations.push(`the leader's Pod was deleted at ${at}ms and no standby led at that instant`)
    }
  }
  if (run.running && recovery(pieces, run.quietFrom, endOfRun) === undefined) {
    violations.push(`nobody leads at the end of the run (${endOfRun}ms) though a candidate runs`)
  }
  violations.push(...termViolations(intervals))
  const rates = checkRates(
    lflRateLimits,
    run.incarnations.map((inc) => ({ name: inc.pod, requests: inc.requests })),
    run.foreignAt,
    run.scenario.lanes
  )
  violations.push(...rates.violations)
  return { violations, peaks: rates.peaks }
}

/**
 * No lock left behind: once every process still running has stopped gracefully, the lock must be gone, or owned
 * by a Pod none of them runs in. A process whose credentials were rotated away cannot release: its lock goes with
 * its Pod, as documented.
 */
export const lflLeftBehind = (
  stopped: ReadonlyArray<{ readonly pod: string; readonly unauthorized: boolean }>,
  owner: string | undefined
): Array<string> =>
  owner !== undefined && stopped.some((inc) => inc.pod === owner && !inc.unauthorized)
    ? [`the lock is still owned by ${owner} after its process stopped gracefully`]
    : []
