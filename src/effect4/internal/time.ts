import { Clock, Duration, Effect, Random, Schedule } from "effect"

/**
 * Milliseconds on the monotonic clock (Effect's `Clock.monotonicTimeNanos`: `process.hrtime` in Node, the test time
 * under `TestClock`): never affected by changes of the wall clock. (`Clock.currentTimeNanos` is the wall clock in
 * Effect 4.)
 */
export const monotonicMillis: Effect.Effect<number> = Effect.map(
  Clock.monotonicTimeNanos,
  // Rounded, as the Effect 3 edition does: a clock that derives nanoseconds from milliseconds can land a hair below.
  (nanos) => Number((nanos + 500_000n) / 1_000_000n)
)

/** Sleeps whole milliseconds: `TestClock` cannot report a fractional instant in nanoseconds. */
export const sleepMillis = (millis: number): Effect.Effect<void> =>
  Effect.sleep(Duration.millis(Math.max(0, Math.ceil(millis))))

/** Sleeps `period` times a random factor in [min, max). */
export const sleepJittered = (period: Duration.Duration, min: number, max: number): Effect.Effect<void> =>
  Effect.flatMap(Random.nextBetween(min, max), (factor) => sleepMillis(Duration.toMillis(period) * factor))

/** `Schedule.jittered` with a chosen range, rounded to whole milliseconds for the reason of {@link sleepMillis}. */
export const jittered = <Out, In, E, R>(
  schedule: Schedule.Schedule<Out, In, E, R>,
  min = 0.8,
  max = 1.2
): Schedule.Schedule<Out, In, E, R> =>
  Schedule.modifyDelay(
    schedule,
    ({ duration }) =>
      Effect.map(
        Random.nextBetween(min, max),
        (factor) => Duration.millis(Math.ceil(Duration.toMillis(duration) * factor))
      )
  )
