/**
 * What both editions' candidate processes (testkit/candidate.ts on Effect 3, effect4/testkit/candidate.ts on Effect 4)
 * share and what does not depend on Effect: their flags, client-go's duration syntax, and their event lines.
 */
import { parseArgs } from "node:util"

export interface CandidateFlags {
  readonly kubeconfig: string | undefined
  readonly namespace: string
  readonly lock: "lease" | "configmap" | "leaderlock"
  readonly name: string
  readonly identity: string
  readonly leaseDurationMillis: number
  readonly renewDeadlineMillis: number
  readonly retryPeriodMillis: number
  readonly repeat: boolean
  readonly stepDownOnUsr2: boolean
  readonly verbose: boolean
}

/** Go-style durations, as client-go's flags take them: "15s", "500ms", "1m". */
export const durationMillis = (text: string): number => {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m)$/.exec(text)
  if (match === null) throw new Error(`not a duration: "${text}" (e.g. 15s, 500ms, 1m)`)
  const value = Number(match[1])
  return match[2] === "ms" ? value : match[2] === "s" ? value * 1000 : value * 60_000
}

/** The flags of process.argv; throws with what to fix. */
export const parseCandidateFlags = (args: ReadonlyArray<string> = process.argv.slice(2)): CandidateFlags => {
  const { values } = parseArgs({
    args: [...args],
    options: {
      kubeconfig: { type: "string" },
      namespace: { type: "string", default: "default" },
      lock: { type: "string", default: "lease" },
      name: { type: "string" },
      identity: { type: "string" },
      "lease-duration": { type: "string", default: "15s" },
      "renew-deadline": { type: "string", default: "10s" },
      "retry-period": { type: "string", default: "2s" },
      repeat: { type: "boolean", default: false },
      "step-down-on-usr2": { type: "boolean", default: false },
      verbose: { type: "boolean", default: false }
    }
  })
  if (values.name === undefined) throw new Error("--name is required")
  const lock = values.lock
  if (lock !== "lease" && lock !== "configmap" && lock !== "leaderlock") {
    throw new Error(`--lock must be configmap, leaderlock or lease, not "${lock}"`)
  }
  return {
    kubeconfig: values.kubeconfig,
    namespace: values.namespace,
    lock,
    name: values.name,
    identity: values.identity ?? `${process.pid}`,
    leaseDurationMillis: durationMillis(values["lease-duration"]),
    renewDeadlineMillis: durationMillis(values["renew-deadline"]),
    retryPeriodMillis: durationMillis(values["retry-period"]),
    repeat: values.repeat,
    stepDownOnUsr2: values["step-down-on-usr2"],
    verbose: values.verbose
  }
}

/**
 * One event line: {"event","identity","leader","mono_ns","wall"}. `mono_ns` is CLOCK_MONOTONIC (process.hrtime),
 * comparable across the processes of one machine.
 */
export const writeEventLine = (identity: string, event: string, leader = ""): void => {
  process.stdout.write(
    JSON.stringify({
      event,
      identity,
      leader,
      mono_ns: Number(process.hrtime.bigint()),
      wall: new Date().toISOString()
    }) + "\n"
  )
}
