/**
 * A deterministic discrete-event simulator for the safety suite (docs/safety.md), on Effect 3. Its Effect-free core
 * (the reference timeline, drift arithmetic, windows, the PRNG) is `timeline.ts`, shared with the Effect 4 edition's
 * simulator (`effect4/test/safety/sim.ts`).
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
import { Drift, InjectedDefect, type InjectedInto, Timeline } from "./timeline.js"

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

/** The reference clock: Effect's `Clock` on the simulator's timeline. */
export class SimClock extends Timeline implements Clock.Clock {
  readonly [Clock.ClockTypeId]: Clock.ClockTypeId = Clock.ClockTypeId

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
        const cancel = this.schedule(at, () => resume(Effect.void))
        return Effect.sync(cancel)
      })
    })
  }
}

/**
 * A candidate's own clock (see `Drift`): local time = offset + floor(ref x permille / 1000); its sleeps wait on the
 * reference clock, and a timer due while the candidate is paused fires when the pause ends.
 */
export class DriftClock extends Drift<SimClock> implements Clock.Clock {
  readonly [Clock.ClockTypeId]: Clock.ClockTypeId = Clock.ClockTypeId
  unsafeCurrentTimeMillis(): number {
    return this.localMillis()
  }
  unsafeCurrentTimeNanos(): bigint {
    return BigInt(this.unsafeCurrentTimeMillis()) * 1_000_000n
  }
  readonly currentTimeMillis: Effect.Effect<number> = Effect.sync(() => this.unsafeCurrentTimeMillis())
  readonly currentTimeNanos: Effect.Effect<bigint> = Effect.sync(() => this.unsafeCurrentTimeNanos())
  sleep(duration: Duration.DurationInput): Effect.Effect<void> {
    const millis = Duration.toMillis(Duration.decode(duration))
    const wait = millis === Number.POSITIVE_INFINITY
      ? Effect.never
      : this.ref.sleepMillis(this.refMillis(Math.max(0, millis)))
    return Effect.zipRight(wait, this.holdWhilePaused)
  }
  readonly holdWhilePaused: Effect.Effect<void> = Effect.suspend(() => {
    const until = this.pausedUntil()
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

/**
 * Whether a process ended the way a real one would on what was injected into it: a defect or an interruption from a
 * service, or a 401 after its credentials were rotated. Anything else is a finding.
 */
export const endedOnInjected = (cause: Cause.Cause<unknown>, process: InjectedInto): boolean =>
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
