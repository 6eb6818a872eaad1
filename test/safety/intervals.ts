/**
 * Leadership intervals on the reference clock, and the checks of the safety suite (docs/safety.md).
 *
 * An instant is (reference millisecond, sequence number): the sequence orders what happens within one millisecond,
 * so "A stopped before B started" is checked even when both happen in the same millisecond.
 */
import type { Window } from "./sim.js"

export interface Instant {
  readonly t: number
  readonly seq: number
}

export interface Interval {
  readonly slot: number
  /** Unique per process incarnation. */
  readonly incarnation: number
  readonly identity: string
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

/** Invariant 1: no two pieces of different incarnations overlap. */
export const overlaps = (pieces: ReadonlyArray<Piece>): Array<string> => {
  const found: Array<string> = []
  for (let i = 0; i < pieces.length; i++) {
    for (let j = i + 1; j < pieces.length; j++) {
      const a = pieces[i]!
      const b = pieces[j]!
      if (a.interval.incarnation === b.interval.incarnation) continue
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
