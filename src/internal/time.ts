import { Clock, Duration, Effect, Random, Schedule } from "effect"

/**
 * Milliseconds on the monotonic clock (Effect's `Clock.currentTimeNanos`: `process.hrtime` in Node, the test time
 * under `TestClock`): never affected by changes of the wall clock.
 */
export const monotonicMillis: Effect.Effect<number> = Effect.map(
  Clock.currentTimeNanos,
  // Rounded: TestClock derives nanoseconds from milliseconds through a float, which can land a hair below.
  (nanos) => Number((nanos + 500_000n) / 1_000_000n)
)

/** Sleeps whole milliseconds: `TestClock` cannot report a fractional instant in nanoseconds. */
export const sleepMillis = (millis: number): Effect.Effect<void> =>
  Effect.sleep(Duration.millis(Math.max(0, Math.ceil(millis))))

/** Sleeps `period` times a random factor in [min, max). */
export const sleepJittered = (period: Duration.Duration, min: number, max: number): Effect.Effect<void> =>
  Effect.flatMap(Random.nextRange(min, max), (factor) => sleepMillis(Duration.toMillis(period) * factor))

/** `Schedule.jitteredWith`, rounded to whole milliseconds for the reason of {@link sleepMillis}. */
export const jittered = <Out, In, R>(
  schedule: Schedule.Schedule<Out, In, R>,
  min = 0.8,
  max = 1.2
): Schedule.Schedule<Out, In, R> =>
  Schedule.modifyDelayEffect(
    schedule,
    (_, delay) =>
      Effect.map(Random.nextRange(min, max), (factor) => Duration.millis(Math.ceil(Duration.toMillis(delay) * factor)))
  )
