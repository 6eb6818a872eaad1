/**
 * The event lines candidate processes print (ours, and tools/candidate for client-go), one JSON object a line:
 * {"event","identity","leader","mono_ns","wall"} (testkit/candidateFlags.ts writes them).
 */
import { Effect } from "effect"
import { writeEventLine } from "./candidateFlags.js"

/** An emitter of event lines for the candidate `identity`. */
export const eventEmitter = (identity: string) => (event: string, leader = ""): Effect.Effect<void> =>
  Effect.sync(() => writeEventLine(identity, event, leader))
