/**
 * Leadership intervals from candidates' events, and the checks on them: overlaps (two leaders at once) and
 * leaderless gaps.
 */
import { type Candidate, monoNow } from "./candidates.js"

/**
 * Leadership intervals from every candidate's events; an interval still open ends at `until`. Asserting that
 * none overlap is asserting that two never led at once.
 */
export const leadershipIntervals = (candidates: ReadonlyArray<Candidate>, until = monoNow()) =>
  candidates.flatMap((candidate) => {
    const intervals: Array<{ identity: string; start: number; end: number }> = []
    let start: number | undefined
    for (const event of candidate.events) {
      if (event.event === "started_leading") start = event.mono_ns
      if (event.event === "stopped_leading" && start !== undefined) {
        intervals.push({ identity: candidate.identity, start, end: event.mono_ns })
        start = undefined
      }
    }
    if (start !== undefined) {
      const killedAt = (candidate as { killedAt?: number }).killedAt
      intervals.push({ identity: candidate.identity, start, end: killedAt ?? until })
    }
    return intervals
  }).sort((a, b) => a.start - b.start)

export const overlaps = (intervals: ReadonlyArray<{ start: number; end: number }>) =>
  intervals.some((interval, index) => index > 0 && interval.start < intervals[index - 1]!.end)

/** A leadership interval as {@link leadershipIntervals} returns it. */
export interface LeadershipInterval {
  readonly identity: string
  readonly start: number
  readonly end: number
}

/** Every pair of intervals that overlap (not only adjacent ones), with how long they overlap, in ns. */
export const overlappingPairs = (intervals: ReadonlyArray<LeadershipInterval>) => {
  const sorted = [...intervals].sort((a, b) => a.start - b.start)
  const pairs: Array<{ first: LeadershipInterval; second: LeadershipInterval; overlapNs: number }> = []
  for (let i = 0; i < sorted.length; i++) {
    for (let j = i + 1; j < sorted.length && sorted[j]!.start < sorted[i]!.end; j++) {
      const overlapNs = Math.min(sorted[i]!.end, sorted[j]!.end) - sorted[j]!.start
      if (overlapNs > 0) pairs.push({ first: sorted[i]!, second: sorted[j]!, overlapNs })
    }
  }
  return pairs
}

/**
 * The stretches between `from` and `until` (mono ns) when no interval is open, each with who led before (if
 * anyone) and who led after (if anyone).
 */
export const leaderlessGaps = (intervals: ReadonlyArray<LeadershipInterval>, from: number, until: number) => {
  const sorted = [...intervals].sort((a, b) => a.start - b.start)
  const gaps: Array<{ start: number; end: number; before?: string; after?: string }> = []
  let coveredUntil = from
  let last: string | undefined
  for (const interval of sorted) {
    if (interval.start > coveredUntil) {
      gaps.push({
        start: coveredUntil,
        end: Math.min(interval.start, until),
        ...(last === undefined ? {} : { before: last }),
        after: interval.identity
      })
    }
    if (interval.end > coveredUntil) {
      coveredUntil = interval.end
      last = interval.identity
    }
  }
  if (coveredUntil < until) {
    gaps.push({ start: coveredUntil, end: until, ...(last === undefined ? {} : { before: last }) })
  }
  return gaps.filter((gap) => gap.end > gap.start)
}
