/** What a bench run measures and with which settings, and the small helpers every phase uses. */
import { randomBytes } from "node:crypto"

export type Impl = "ours" | "client-go"
export type ProfileName = "default" | "fast"
export const impls: ReadonlyArray<Impl> = ["ours", "client-go"]
export const phases = ["graceful", "warm", "crash", "lfl", "load", "scale", "cost", "events", "memory"] as const
export type Phase = (typeof phases)[number]

export interface Profile {
  readonly name: ProfileName
  readonly leaseDuration: string
  readonly renewDeadline: string
  readonly retryPeriod: string
  readonly leaseMs: number
  readonly retryMs: number
}
export const profiles: Record<ProfileName, Profile> = {
  default: {
    name: "default",
    leaseDuration: "15s",
    renewDeadline: "10s",
    retryPeriod: "2s",
    leaseMs: 15_000,
    retryMs: 2_000
  },
  fast: { name: "fast", leaseDuration: "4s", renewDeadline: "3s", retryPeriod: "1s", leaseMs: 4_000, retryMs: 1_000 }
}

export interface Settings {
  readonly quick: boolean
  readonly trials: number
  readonly steadySeconds: number
  readonly scaleCount: number
  readonly parallel: number
  readonly lflScheduleTrials: number
  /** How long the schedule-only follower waits before the holder's Pod is deleted: U(min, max) seconds. */
  readonly lflWait: readonly [number, number]
  readonly profiles: ReadonlyArray<ProfileName>
  readonly only: ReadonlyArray<Phase>
}

export interface SettingsFlags {
  readonly trials?: string | undefined
  readonly steady?: string | undefined
  readonly profile?: string | undefined
  readonly only?: string | undefined
  readonly quick?: boolean | undefined
  readonly scale?: string | undefined
  readonly parallel?: string | undefined
  readonly "lfl-trials"?: string | undefined
}

/** The settings of a run from its command-line flags; unknown profiles and phases are refused. */
export const settingsFrom = (flags: SettingsFlags): Settings => {
  const quick = flags.quick === true
  const profile = flags.profile ?? "both"
  const settings: Settings = {
    quick,
    trials: Number(flags.trials ?? (quick ? 3 : 20)),
    steadySeconds: Number(flags.steady ?? (quick ? 20 : 120)),
    scaleCount: Number(flags.scale ?? (quick ? 10 : 50)),
    parallel: Math.max(1, Number(flags.parallel ?? 1)),
    lflScheduleTrials: Number(flags["lfl-trials"] ?? (quick ? 2 : 5)),
    lflWait: quick ? [2, 10] : [31, 67],
    profiles: (profile === "both" ? ["default", "fast"] : [profile]) as Array<ProfileName>,
    only: (flags.only === undefined ? [...phases] : flags.only.split(",").map((s) => s.trim())) as Array<Phase>
  }
  for (const p of settings.profiles) if (!(p in profiles)) throw new Error(`--profile: unknown profile ${p}`)
  for (const p of settings.only) if (!phases.includes(p)) throw new Error(`--only: unknown phase ${p} (${phases})`)
  return settings
}

export const log = (line: string) => process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}\n`)
export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))
export const uniform = (min: number, max: number) => min + Math.random() * (max - min)
export const nsToMs = (ns: number) => ns / 1e6

let counter = 0
/** A name part unique to this run: Leases, Pods and locks of different trials never meet. */
export const uid = () => `${Date.now().toString(36)}${(counter++).toString(36)}${randomBytes(2).toString("hex")}`
