/**
 * The event lines candidate processes print (ours, and tools/candidate for client-go), one JSON object a line:
 * {"event","identity","leader","mono_ns","wall"}. `mono_ns` is CLOCK_MONOTONIC (process.hrtime), comparable across
 * the processes of one machine.
 */
import { Effect } from "effect"

/** An emitter of event lines for the candidate `identity`. */
export const eventEmitter = (identity: string) => (event: string, leader = ""): Effect.Effect<void> =>
  Effect.sync(() => {
    process.stdout.write(
      JSON.stringify({
        event,
        identity,
        leader,
        mono_ns: Number(process.hrtime.bigint()),
        wall: new Date().toISOString()
      }) + "\n"
    )
  })
