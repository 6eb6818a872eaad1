/**
 * A deterministic discrete-event simulator for the safety suite (docs/safety.md), on Effect 4: the port of
 * `test/safety/sim.ts`. Its Effect-free core (the reference timeline, drift arithmetic, windows, the PRNG) is
 * `test/safety/timeline.ts`, shared with the Effect 3 edition.
 *
 * - `SimScheduler`: every fiber runs on this scheduler, whose one dispatcher only queues tasks; `flush` runs them
 *   until every fiber is suspended, so the driver knows exactly when the system is quiescent (no `setTimeout`, no
 *   `setImmediate`, no microtasks).
 * - `SimClock`: the reference clock. Time stands still between events; the driver moves it to the next sleep's
 *   instant (whole milliseconds) and wakes sleepers one at a time, in (instant, registration) order.
 * - `DriftClock`: one candidate's own clock, running at `rate` = permille / 1000 of the reference clock, whose timers
 *   do not fire while the candidate is paused (they fire when it resumes).
 *
 * Effect 4 runs more synchronously than Effect 3: `runForkWith` starts a fiber at once, and a callback's `resume`
 * runs the fiber on the spot. Both stay within one run of the driver, so a run is still one synchronous, deterministic
 * computation; what Effect 4 queues (forked children, yields, queue and semaphore wake-ups) goes to the dispatcher.
 */
import { Cause, Clock, type Context, Duration, Effect, Exit, Fiber, Option, Result, type Scheduler } from "effect"
import { Drift, InjectedDefect, type InjectedInto, Timeline } from "../../../test/safety/timeline.js"

/** One scheduler, one dispatcher for every fiber: a queue the driver flushes, in priority order, FIFO within one. */
export class SimScheduler implements Scheduler.Scheduler, Scheduler.SchedulerDispatcher {
  readonly executionMode = "sync" as const
  private tasks = new Map<number, Array<() => void>>()
  shouldYield(fiber: Fiber.Fiber<unknown, unknown>): boolean {
    return fiber.currentOpCount >= fiber.cache.maxOpsBeforeYield
  }
  makeDispatcher(): Scheduler.SchedulerDispatcher {
    return this
  }
  scheduleTask(task: () => void, priority: number): void {
    const bucket = this.tasks.get(priority)
    if (bucket === undefined) this.tasks.set(priority, [task])
    else bucket.push(task)
  }
  /** Runs every queued task, and the tasks they queue, until none is left. */
  flush(): void {
    let ran = 0
    while (this.tasks.size > 0) {
      const buckets = [...this.tasks].sort(([a], [b]) => a - b)
      this.tasks = new Map()
      for (const [, batch] of buckets) {
        for (const task of batch) task()
        ran += batch.length
      }
      if (ran > 1_000_000) throw new Error("the simulation does not quiesce: a fiber never suspends")
    }
  }
}

/** The reference clock: Effect's `Clock` on the simulator's timeline. Wall and monotonic time are the same. */
export class SimClock extends Timeline implements Clock.Clock {
  currentTimeMillisUnsafe(): number {
    return this.now
  }
  currentTimeNanosUnsafe(): bigint {
    return BigInt(this.now) * 1_000_000n
  }
  monotonicTimeNanosUnsafe(): bigint {
    return this.currentTimeNanosUnsafe()
  }
  readonly currentTimeMillis: Effect.Effect<number> = Effect.sync(() => this.now)
  readonly currentTimeNanos: Effect.Effect<bigint> = Effect.sync(() => this.currentTimeNanosUnsafe())
  readonly monotonicTimeNanos: Effect.Effect<bigint> = this.currentTimeNanos

  sleep(duration: Duration.Duration): Effect.Effect<void> {
    return this.sleepMillis(Duration.toMillis(duration))
  }
  sleepMillis(millis: number): Effect.Effect<void> {
    return Effect.suspend(() => this.sleepUntil(this.now + Math.ceil(Math.max(0, millis))))
  }
  /** Wakes at the reference instant `at` (whole milliseconds), at once if it has passed. */
  sleepUntil(at: number): Effect.Effect<void> {
    return Effect.suspend(() => {
      if (at <= this.now) return Effect.void
      return Effect.callback<void>((resume) => {
        const cancel = this.schedule(at, () => resume(Effect.void))
        return Effect.sync(cancel)
      })
    })
  }
}

/**
 * A candidate's own clock (see `Drift`): local time = offset + floor(ref x permille / 1000), for its wall and its
 * monotonic clock alike; its sleeps wait on the reference clock, and a timer due while the candidate is paused fires
 * when the pause ends.
 */
export class DriftClock extends Drift<SimClock> implements Clock.Clock {
  currentTimeMillisUnsafe(): number {
    return this.localMillis()
  }
  currentTimeNanosUnsafe(): bigint {
    return BigInt(this.currentTimeMillisUnsafe()) * 1_000_000n
  }
  monotonicTimeNanosUnsafe(): bigint {
    return this.currentTimeNanosUnsafe()
  }
  readonly currentTimeMillis: Effect.Effect<number> = Effect.sync(() => this.currentTimeMillisUnsafe())
  readonly currentTimeNanos: Effect.Effect<bigint> = Effect.sync(() => this.currentTimeNanosUnsafe())
  readonly monotonicTimeNanos: Effect.Effect<bigint> = this.currentTimeNanos
  sleep(duration: Duration.Duration): Effect.Effect<void> {
    const millis = Duration.toMillis(duration)
    const wait = millis === Number.POSITIVE_INFINITY
      ? Effect.never
      : this.ref.sleepMillis(this.refMillis(Math.max(0, millis)))
    return Effect.andThen(wait, this.holdWhilePaused)
  }
  readonly holdWhilePaused: Effect.Effect<void> = Effect.suspend(() => {
    const until = this.pausedUntil()
    return until > this.ref.now ? Effect.andThen(this.ref.sleepUntil(until), this.holdWhilePaused) : Effect.void
  })
}

/** Runs `effect` to completion on the simulator (no clock movement): for setup and for the driver's actions. */
export const runNow = <A, E, R>(
  context: Context.Context<R>,
  scheduler: SimScheduler,
  effect: Effect.Effect<A, E, R>
): A => {
  const fiber = runFork(context, scheduler, effect)
  scheduler.flush()
  const exit = fiber.pollUnsafe()
  if (exit === undefined) throw new Error("runNow: the effect did not complete without the clock moving")
  if (Exit.isFailure(exit)) throw new Error(`runNow: the effect failed: ${String(exit.cause)}`)
  return exit.value
}

/** Starts `effect` on the simulator's scheduler, with `context`'s services (its clock, its Random, ...). */
export const runFork = <A, E, R>(
  context: Context.Context<R>,
  scheduler: SimScheduler,
  effect: Effect.Effect<A, E, R>
): Fiber.Fiber<A, E> => Effect.runForkWith(context)(effect, { scheduler })

/**
 * Whether a process ended the way a real one would on what was injected into it: a defect or an interruption from a
 * service, or a 401 after its credentials were rotated. Anything else is a finding.
 */
export const endedOnInjected = (cause: Cause.Cause<unknown>, process: InjectedInto): boolean => {
  const defect = Cause.findDefect(cause)
  return (Result.isSuccess(defect) && defect.success instanceof InjectedDefect) ||
    (process.injectedInterrupts > 0 && Cause.hasInterruptsOnly(cause)) ||
    (process.unauthorized &&
      Option.exists(Cause.findErrorOption(cause), (error) => (error as { reason?: string }).reason === "Unauthorized"))
}

/**
 * Stops `fibers` gracefully (interruption: their finalizers release) and runs the simulation until `until`, so that
 * what the releases wait for happens; the no-lock-left-behind checks read the store afterwards. Effect 4 interrupts a
 * suspended fiber on the spot, finalizers included, and what they wake runs too: a process still to be stopped may
 * see another's release first and take the lock, which its own stop must then release.
 */
export const stopGracefully = <R>(
  context: Context.Context<R>,
  scheduler: SimScheduler,
  clock: SimClock,
  fibers: ReadonlyArray<Fiber.Fiber<unknown, unknown>>,
  until: number
): void => {
  for (const fiber of fibers) runFork(context, scheduler, Fiber.interrupt(fiber))
  scheduler.flush()
  while (clock.next() <= until) {
    clock.wakeNext()
    scheduler.flush()
  }
}
