/**
 * A deterministic discrete-event simulator for the safety suite (docs/safety.md).
 *
 * - `SimScheduler`: every fiber runs on this scheduler, which only queues tasks; `flush` runs them until every fiber
 *   is suspended, so the driver knows exactly when the system is quiescent (no `setTimeout`, no microtasks).
 * - `SimClock`: the reference clock. Time stands still between events; the driver moves it to the next sleep's
 *   instant (whole milliseconds) and wakes sleepers one at a time, in (instant, registration) order.
 * - `DriftClock`: one candidate's own clock, running at `rate` = permille / 1000 of the reference clock, whose timers
 *   do not fire while the candidate is paused (they fire when it resumes).
 */
import { Cause, Clock, Duration, Effect, Exit, Fiber, FiberRef, Option, type Runtime, type Scheduler } from "effect"
import type { RuntimeFiber } from "effect/Fiber"
import * as EffectRuntime from "effect/Runtime"

export class SimScheduler implements Scheduler.Scheduler {
  private tasks: Array<Scheduler.Task> = []
  scheduleTask(task: Scheduler.Task): void {
    this.tasks.push(task)
  }
  shouldYield(fiber: RuntimeFiber<unknown, unknown>): number | false {
    return fiber.currentOpCount > fiber.getFiberRef(FiberRef.currentMaxOpsBeforeYield)
      ? fiber.getFiberRef(FiberRef.currentSchedulingPriority)
      : false
  }
  /** Runs every queued task, and the tasks they queue, until none is left. */
  flush(): void {
    let ran = 0
    while (this.tasks.length > 0) {
      const batch = this.tasks
      this.tasks = []
      for (const task of batch) task()
      ran += batch.length
      if (ran > 1_000_000) throw new Error("the simulation does not quiesce: a fiber never suspends")
    }
  }
}

interface Sleeper {
  readonly at: number
  readonly seq: number
  readonly wake: () => void
  cancelled: boolean
}

const before = (a: Sleeper, b: Sleeper) => a.at < b.at || (a.at === b.at && a.seq < b.seq)

/** The reference clock: a binary heap of sleepers ordered by (instant, registration). */
export class SimClock implements Clock.Clock {
  readonly [Clock.ClockTypeId]: Clock.ClockTypeId = Clock.ClockTypeId
  now = 0
  private seq = 0
  private heap: Array<Sleeper> = []

  unsafeCurrentTimeMillis(): number {
    return this.now
  }
  unsafeCurrentTimeNanos(): bigint {
    return BigInt(this.now) * 1_000_000n
  }
  readonly currentTimeMillis: Effect.Effect<number> = Effect.sync(() => this.now)
  readonly currentTimeNanos: Effect.Effect<bigint> = Effect.sync(() => this.unsafeCurrentTimeNanos())

  sleep(duration: Duration.DurationInput): Effect.Effect<void> {
    return this.sleepMillis(Duration.toMillis(Duration.decode(duration)))
  }
  sleepMillis(millis: number): Effect.Effect<void> {
    return Effect.suspend(() => this.sleepUntil(this.now + Math.ceil(Math.max(0, millis))))
  }
  /** Wakes at the reference instant `at` (whole milliseconds), at once if it has passed. */
  sleepUntil(at: number): Effect.Effect<void> {
    return Effect.suspend(() => {
      if (at <= this.now) return Effect.void
      return Effect.async<void>((resume) => {
        const sleeper: Sleeper = { at, seq: this.seq++, wake: () => resume(Effect.void), cancelled: false }
        this.push(sleeper)
        return Effect.sync(() => {
          sleeper.cancelled = true
        })
      })
    })
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

/**
 * A candidate's own clock: local time = offset + floor(ref x permille / 1000). A sleep of x local milliseconds waits
 * ceil(x x 1000 / permille) reference milliseconds, so it never ends early on the local clock; a timer due while the
 * candidate is paused fires when the pause ends.
 */
export class DriftClock implements Clock.Clock {
  readonly [Clock.ClockTypeId]: Clock.ClockTypeId = Clock.ClockTypeId
  constructor(
    readonly ref: SimClock,
    readonly permille: number,
    readonly offset: number,
    /** The candidate's pauses so far (merged), read at every timer. */
    readonly pauses: () => ReadonlyArray<Window>
  ) {}
  unsafeCurrentTimeMillis(): number {
    return this.offset + Math.floor((this.ref.now * this.permille) / 1000)
  }
  unsafeCurrentTimeNanos(): bigint {
    return BigInt(this.unsafeCurrentTimeMillis()) * 1_000_000n
  }
  readonly currentTimeMillis: Effect.Effect<number> = Effect.sync(() => this.unsafeCurrentTimeMillis())
  readonly currentTimeNanos: Effect.Effect<bigint> = Effect.sync(() => this.unsafeCurrentTimeNanos())
  /** Reference milliseconds for `millis` local ones. */
  refMillis(millis: number): number {
    return ceilDiv(Math.ceil(millis) * 1000, this.permille)
  }
  sleep(duration: Duration.DurationInput): Effect.Effect<void> {
    const millis = Duration.toMillis(Duration.decode(duration))
    const wait = millis === Number.POSITIVE_INFINITY
      ? Effect.never
      : this.ref.sleepMillis(this.refMillis(Math.max(0, millis)))
    return Effect.zipRight(wait, this.holdWhilePaused)
  }
  readonly holdWhilePaused: Effect.Effect<void> = Effect.suspend(() => {
    const until = blockedUntil(this.pauses(), this.ref.now)
    return until > this.ref.now ? Effect.zipRight(this.ref.sleepUntil(until), this.holdWhilePaused) : Effect.void
  })
}

/** Runs `effect` to completion on the simulator (no clock movement): for setup and for the driver's actions. */
export const runNow = <A, E, R>(
  runtime: Runtime.Runtime<R>,
  scheduler: SimScheduler,
  effect: Effect.Effect<A, E, R>
): A => {
  const fiber = runFork(runtime, scheduler, effect)
  scheduler.flush()
  const exit = fiber.unsafePoll()
  if (exit === null) throw new Error("runNow: the effect did not complete without the clock moving")
  if (Exit.isFailure(exit)) throw new Error(`runNow: the effect failed: ${String(exit.cause)}`)
  return exit.value
}

export const runFork = <A, E, R>(
  runtime: Runtime.Runtime<R>,
  scheduler: SimScheduler,
  effect: Effect.Effect<A, E, R>
) => EffectRuntime.runFork(runtime)(effect, { scheduler })

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

/**
 * Whether a process ended the way a real one would on what was injected into it: a defect or an interruption from a
 * service, or a 401 after its credentials were rotated. Anything else is a finding.
 */
export const endedOnInjected = (
  cause: Cause.Cause<unknown>,
  process: { readonly injectedInterrupts: number; readonly unauthorized: boolean }
): boolean =>
  Option.exists(Cause.dieOption(cause), (defect) => defect instanceof InjectedDefect) ||
  (process.injectedInterrupts > 0 && Cause.isInterruptedOnly(cause)) ||
  (process.unauthorized &&
    Option.exists(Cause.failureOption(cause), (error) => (error as { reason?: string }).reason === "Unauthorized"))

/**
 * Stops `fibers` gracefully (interruption: their finalizers release) and runs the simulation until `until`, so that
 * what the releases wait for happens; the no-lock-left-behind checks read the store afterwards.
 */
export const stopGracefully = <R>(
  runtime: Runtime.Runtime<R>,
  scheduler: SimScheduler,
  clock: SimClock,
  fibers: ReadonlyArray<RuntimeFiber<unknown, unknown>>,
  until: number
): void => {
  for (const fiber of fibers) runFork(runtime, scheduler, Fiber.interrupt(fiber))
  scheduler.flush()
  while (clock.next() <= until) {
    clock.wakeNext()
    scheduler.flush()
  }
}
