/**
 * Leadership intervals on the reference clock, and the checks of the safety suite (docs/safety.md).
 *
 * An instant is (reference millisecond, sequence number): the sequence orders what happens within one millisecond,
 * so "A stopped before B started" is checked even when both happen in the same millisecond.
 */
import type { Window } from "./timeline.js"

export interface Instant {
  readonly t: number
  readonly seq: number
}

export interface Interval {
  readonly slot: number
  /** Unique per process incarnation. */
  readonly incarnation: number
  /** Which of the process's concurrent election loops (on one LeaderElection service) led. */
  readonly lane: number
  readonly identity: string
  /** `Leadership.term`, where the loop used the scoped `leadership` (runAsLeader does not show it). */
  readonly term: number | undefined
  readonly start: Instant
  end: Instant | undefined
}

const leq = (a: Instant, b: Instant) => a.t < b.t || (a.t === b.t && a.seq <= b.seq)
const lt = (a: Instant, b: Instant) => a.t < b.t || (a.t === b.t && a.seq < b.seq)
const show = (i: Instant) => `${i.t}ms${Number.isFinite(i.seq) ? `#${i.seq}` : ""}`

export interface Piece {
  readonly interval: Interval
  readonly start: Instant
  readonly end: Instant
}

/**
 * The parts of an interval during which its process could act: the interval minus the process's pauses. A paused
 * process runs no code; when it resumes it must stop within the resume instant (zero reference time), so the part
 * from a pause's end to a stop in that same millisecond is dropped: that is the model's one allowance.
 */
export const activePieces = (interval: Interval, endOfRun: number, pauses: ReadonlyArray<Window>): Array<Piece> => {
  let pieces: Array<Piece> = [{ interval, start: interval.start, end: interval.end ?? { t: endOfRun, seq: Infinity } }]
  for (const pause of pauses) {
    const next: Array<Piece> = []
    for (const piece of pieces) {
      if (pause.to <= piece.start.t || pause.from > piece.end.t) {
        next.push(piece)
        continue
      }
      const cutStart: Instant = { t: pause.from, seq: -Infinity }
      if (lt(piece.start, cutStart)) next.push({ interval, start: piece.start, end: cutStart })
      if (piece.end.t > pause.to) next.push({ interval, start: { t: pause.to, seq: -Infinity }, end: piece.end })
    }
    pieces = next
  }
  return pieces.filter((piece) => lt(piece.start, piece.end))
}

/** Invariant 1: no two pieces overlap, of different processes or of two loops of one process. */
export const overlaps = (pieces: ReadonlyArray<Piece>): Array<string> => {
  const found: Array<string> = []
  for (let i = 0; i < pieces.length; i++) {
    for (let j = i + 1; j < pieces.length; j++) {
      const a = pieces[i]!
      const b = pieces[j]!
      if (a.interval.incarnation === b.interval.incarnation && a.interval.lane === b.interval.lane) continue
      if (leq(a.end, b.start) || leq(b.end, a.start)) continue
      found.push(
        `two leaders: ${a.interval.identity} [${show(a.start)}, ${show(a.end)}) and ${b.interval.identity} [${
          show(b.start)
        }, ${show(b.end)})`
      )
    }
  }
  return found
}

/**
 * The earliest instant t0 >= from such that someone leads at every instant of [t0, endOfRun] (ignoring order within
 * a millisecond: a handover in one millisecond is no gap); undefined when nobody leads at endOfRun.
 */
export const recovery = (pieces: ReadonlyArray<Piece>, from: number, endOfRun: number): number | undefined => {
  const segments = pieces.map((piece) => [piece.start.t, piece.end.t] as const).sort((a, b) => a[0] - b[0])
  const merged: Array<[number, number]> = []
  for (const [s, e] of segments) {
    const last = merged.at(-1)
    if (last !== undefined && s <= last[1]) last[1] = Math.max(last[1], e)
    else merged.push([s, e])
  }
  const covering = merged.find(([s, e]) => s <= endOfRun && e >= endOfRun)
  return covering === undefined ? undefined : Math.max(from, covering[0])
}

/** Invariant: each new leadership has a greater term than every leadership that started before it. */
export const termViolations = (intervals: ReadonlyArray<Interval>): Array<string> => {
  const found: Array<string> = []
  const withTerm = intervals.filter((interval) => interval.term !== undefined).sort((a, b) =>
    lt(a.start, b.start) ? -1 : 1
  )
  for (let i = 1; i < withTerm.length; i++) {
    const [before, after] = [withTerm[i - 1]!, withTerm[i]!]
    if (after.term! <= before.term!) {
      found.push(
        `the term did not grow: ${before.identity} led from ${
          show(before.start)
        } with term ${before.term}, then ${after.identity} from ${show(after.start)} with term ${after.term}`
      )
    }
  }
  return found
}

/**
 * Invariant: a candidate's request rate stays bounded. `at` are the reference instants of its requests (watch
 * openings included); in no window of `window` ms may there be more than `bound(from)` of them.
 */
export const rateViolations = (
  who: string,
  at: ReadonlyArray<number>,
  window: number,
  bound: (from: number) => number
): Array<string> => {
  let first = 0
  for (let last = 0; last < at.length; last++) {
    while (at[last]! - at[first]! >= window) first++
    const count = last - first + 1
    if (count > bound(at[first]!)) {
      return [`${who} sent ${count} requests within ${window}ms from ${at[first]}ms (bound ${bound(at[first]!)})`]
    }
  }
  return []
}

/** The most requests within any window of `window` ms. */
export const peakRate = (at: ReadonlyArray<number>, window: number): number => {
  let first = 0
  let peak = 0
  for (let last = 0; last < at.length; last++) {
    while (at[last]! - at[first]! >= window) first++
    peak = Math.max(peak, last - first + 1)
  }
  return peak
}

/**
 * Rate bounds (docs/safety.md), each over a sliding window: a short one for bursts, a long one for a sustained rate,
 * which a reconnect loop that resets its backoff on every connection exceeds while staying under the short one.
 * Each foreign write or deletion of the lock within a window allows 3 more requests per election loop.
 */
export type RateLimits = ReadonlyArray<{ readonly window: number; readonly bound: number }>

const perForeignEvent = 3

/** Checks every process's requests against every limit; returns the violations and the peak per limit. */
export const checkRates = (
  limits: RateLimits,
  processes: ReadonlyArray<{ readonly name: string; readonly requests: ReadonlyArray<number> }>,
  foreignAt: ReadonlyArray<number>,
  lanes: number
): { readonly violations: Array<string>; readonly peaks: Array<number> } => ({
  violations: processes.flatMap(({ name, requests }) =>
    limits.flatMap(({ bound, window }) =>
      rateViolations(
        name,
        requests,
        window,
        (from) =>
          bound + perForeignEvent * lanes * foreignAt.filter((t) => t >= from - window && t < from + window).length
      )
    )
  ),
  peaks: limits.map(({ window }) => Math.max(0, ...processes.map(({ requests }) => peakRate(requests, window))))
})
