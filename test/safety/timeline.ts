/**
 * The Effect-free core of the safety suite's simulator (docs/safety.md), shared by both editions' simulators
 * (`test/safety/sim.ts` on Effect 3, `effect4/test/safety/sim.ts` on Effect 4), which wrap it in their `Clock`:
 *
 * - `Timeline`: the reference clock's time and its sleepers, woken one at a time in (instant, registration) order.
 * - `Drift`: one candidate's own clock as arithmetic on the reference clock (rate and offset), and its pauses.
 * - Windows of reference time, the PRNG of the fault decisions, and the faults both models inject.
 */

interface Sleeper {
  readonly at: number
  readonly seq: number
  readonly wake: () => void
  cancelled: boolean
}

const before = (a: Sleeper, b: Sleeper) => a.at < b.at || (a.at === b.at && a.seq < b.seq)

/** The reference clock: its time (whole milliseconds) and a binary heap of sleepers ordered by (instant, registration). */
export class Timeline {
  now = 0
  private seq = 0
  private heap: Array<Sleeper> = []

  /** Registers `wake` for the reference instant `at`; returns what cancels it. */
  schedule(at: number, wake: () => void): () => void {
    const sleeper: Sleeper = { at, seq: this.seq++, wake, cancelled: false }
    this.push(sleeper)
    return () => {
      sleeper.cancelled = true
    }
  }
  /** The instant of the next live sleeper, or Infinity. */
  next(): number {
    while (this.heap.length > 0 && this.heap[0]!.cancelled) this.pop()
    return this.heap.length > 0 ? this.heap[0]!.at : Number.POSITIVE_INFINITY
  }
  /** Moves the clock to the next sleeper's instant and wakes it. */
  wakeNext(): void {
    this.next()
    const sleeper = this.pop()
    if (sleeper === undefined) return
    this.now = sleeper.at
    sleeper.wake()
  }

  private push(sleeper: Sleeper) {
    const heap = this.heap
    heap.push(sleeper)
    let i = heap.length - 1
    while (i > 0) {
      const parent = (i - 1) >> 1
      if (!before(heap[i]!, heap[parent]!)) break
      ;[heap[i], heap[parent]] = [heap[parent]!, heap[i]!]
      i = parent
    }
  }
  private pop(): Sleeper | undefined {
    const heap = this.heap
    if (heap.length === 0) return undefined
    const top = heap[0]!
    const last = heap.pop()!
    if (heap.length > 0) {
      heap[0] = last
      let i = 0
      while (true) {
        const l = 2 * i + 1
        const r = l + 1
        let m = i
        if (l < heap.length && before(heap[l]!, heap[m]!)) m = l
        if (r < heap.length && before(heap[r]!, heap[m]!)) m = r
        if (m === i) break
        ;[heap[i], heap[m]] = [heap[m]!, heap[i]!]
        i = m
      }
    }
    return top
  }
}

/** ceil(a / b) for non-negative integers, exactly. */
export const ceilDiv = (a: number, b: number) => Math.floor((a + b - 1) / b)

/** Reference milliseconds for `millis` milliseconds of a clock running at `permille` / 1000 of the reference. */
export const refMillis = (permille: number, millis: number): number => ceilDiv(Math.ceil(millis) * 1000, permille)

/** Half-open reference-time windows [from, to). */
export interface Window {
  readonly from: number
  readonly to: number
}

/** Merges overlapping or touching windows. */
export const merge = (windows: ReadonlyArray<Window>): Array<Window> => {
  const sorted = [...windows].filter((w) => w.to > w.from).sort((a, b) => a.from - b.from)
  const merged: Array<Window> = []
  for (const w of sorted) {
    const last = merged.at(-1)
    if (last !== undefined && w.from <= last.to) {
      merged[merged.length - 1] = { from: last.from, to: Math.max(last.to, w.to) }
    } else merged.push(w)
  }
  return merged
}

/** The end of the merged window containing `t`, or `t` when none does. */
export const blockedUntil = (merged: ReadonlyArray<Window>, t: number): number => {
  for (const w of merged) if (w.from <= t && t < w.to) return w.to
  return t
}

/** Whether the reference instant `t` falls in an action's window [at, at + duration). */
export const within = (action: { readonly at: number; readonly duration: number }, t: number) =>
  action.at <= t && t < action.at + action.duration

/**
 * A candidate's own clock, as arithmetic on the reference timeline: local time = offset + floor(ref x permille /
 * 1000). A sleep of x local milliseconds waits ceil(x x 1000 / permille) reference milliseconds, so it never ends
 * early on the local clock; a timer due while the candidate is paused fires when the pause ends. Each edition's
 * `DriftClock` extends it with its `Clock`.
 */
export class Drift<Ref extends Timeline = Timeline> {
  constructor(
    readonly ref: Ref,
    readonly permille: number,
    readonly offset: number,
    /** The candidate's pauses so far (merged), read at every timer. */
    readonly pauses: () => ReadonlyArray<Window>
  ) {}
  /** The local time, in whole milliseconds. */
  localMillis(): number {
    return this.offset + Math.floor((this.ref.now * this.permille) / 1000)
  }
  /** Reference milliseconds for `millis` local ones. */
  refMillis(millis: number): number {
    return refMillis(this.permille, millis)
  }
  /** The end of the pause the candidate is in now, or now. */
  pausedUntil(): number {
    return blockedUntil(this.pauses(), this.ref.now)
  }
}

/** A small deterministic PRNG (mulberry32) for fault decisions. */
export const prng = (seed: number) => {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** The PRNG of one process (incarnation `id`) of a run seeded with `seed`. */
export const incarnationRandom = (seed: number, id: number) => prng((seed ^ Math.imul(id + 1, 0x9e3779b1)) >>> 0)

/** A defect a fault injects into a resource service: a process that dies of it exits, as a real one would. */
export class InjectedDefect extends Error {
  constructor() {
    super("injected defect in a resource service")
  }
}

/** Faults of one process that both safety models inject (docs/safety.md). */
export type ProcessFault =
  /** The slot's requests die (a bug in a wrapped service), or are interrupted from inside. */
  | {
    readonly kind: "defects"
    readonly at: number
    readonly slot: number
    readonly duration: number
    readonly percent: number
    readonly interrupt: boolean
  }
  /** Every watch the slot opens fails right after it connects (a 429 from API Priority and Fairness). */
  | { readonly kind: "watchFlap"; readonly at: number; readonly slot: number; readonly duration: number }
  /** The slot's writes (creates, for leader for life) time out on the client; the server commits them later. */
  | {
    readonly kind: "lateCommit"
    readonly at: number
    readonly slot: number
    readonly duration: number
    readonly percent: number
    readonly delay: number
  }
  /** The slot's credentials are rotated under the running process, which cannot follow: 401 from then on. */
  | { readonly kind: "rotateCredentials"; readonly at: number; readonly slot: number }

/** What a process that ended was injected with, for `endedOnInjected`. */
export interface InjectedInto {
  readonly injectedInterrupts: number
  readonly unauthorized: boolean
}
