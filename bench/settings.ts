/** What a bench run measures and with which settings, and the small helpers every phase uses. */
import { randomBytes } from "node:crypto"

/**
 * The implementations a run compares: ours in both editions, each as users run it (the built library on plain node):
 * "ours" is the Effect 3 edition (dist/, testkit/candidate.ts, on the Node that runs the bench) and "ours4" the
 * Effect 4 edition (dist/effect4/, effect4/testkit/candidate.ts, on Node 24); "client-go" is tools/candidate.
 * Results files written before the Effect 4 edition have "ours" and "client-go" only.
 */
export type Impl = "ours" | "ours4" | "client-go"
/** Our editions. */
export type Ours = Exclude<Impl, "client-go">
export type ProfileName = "default" | "fast"
export const impls: ReadonlyArray<Impl> = ["ours", "ours4", "client-go"]
export const oursImpls: ReadonlyArray<Ours> = ["ours", "ours4"]
export const isOurs = (impl: Impl): impl is Ours => impl !== "client-go"
/** The edition of Effect of one of ours. */
export const editionOf = (impl: Ours): 3 | 4 => impl === "ours4" ? 4 : 3
/** How the table, the targets and the page name each implementation. */
export const implLabels: Record<Impl, string> = {
  ours: "effect-k8s-leader (Effect 3)",
  ours4: "effect-k8s-leader (Effect 4)",
  "client-go": "client-go"
}
/** The implementations of a results file: all it measured (before `--impls`, ours and client-go). */
export const implsOf = (settings: { readonly impls?: ReadonlyArray<Impl> | undefined }): ReadonlyArray<Impl> =>
  settings.impls ?? ["ours", "client-go"]
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
  /** The implementations measured (`--impls`, default all three). */
  readonly impls: ReadonlyArray<Impl>
  /** The handover chains of the implementations one after another (`--serial`) rather than side by side. */
  readonly serial: boolean
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
  readonly impls?: string | undefined
  readonly serial?: boolean | undefined
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
    only: (flags.only === undefined ? [...phases] : flags.only.split(",").map((s) => s.trim())) as Array<Phase>,
    // In the order of `impls`, whatever the order of the flag.
    impls: flags.impls === undefined
      ? impls
      : impls.filter((impl) => flags.impls!.split(",").map((s) => s.trim()).includes(impl)),
    serial: flags.serial === true
  }
  for (const p of settings.profiles) if (!(p in profiles)) throw new Error(`--profile: unknown profile ${p}`)
  for (const p of settings.only) if (!phases.includes(p)) throw new Error(`--only: unknown phase ${p} (${phases})`)
  for (const i of flags.impls?.split(",").map((s) => s.trim()) ?? []) {
    if (!impls.includes(i as Impl)) throw new Error(`--impls: unknown implementation ${i} (${impls})`)
  }
  if (settings.impls.length === 0) throw new Error("--impls: no implementation")
  return settings
}

/**
 * `f` for each implementation of `chosen`, side by side, or one after another with `--serial`: the results by
 * implementation.
 */
export const eachImpl = async <I extends Impl, A>(
  settings: Settings,
  chosen: ReadonlyArray<I>,
  f: (impl: I) => Promise<A>
): Promise<Partial<Record<I, A>>> => {
  const out: Partial<Record<I, A>> = {}
  if (settings.serial) {
    for (const impl of chosen) out[impl] = await f(impl)
  } else {
    const results = await Promise.all(chosen.map(f))
    chosen.forEach((impl, i) => out[impl] = results[i]!)
  }
  return out
}

export const log = (line: string) => process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}\n`)
export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))
export const uniform = (min: number, max: number) => min + Math.random() * (max - min)
export const nsToMs = (ns: number) => ns / 1e6

let counter = 0
/** A name part unique to this run: Leases, Pods and locks of different trials never meet. */
export const uid = () => `${Date.now().toString(36)}${(counter++).toString(36)}${randomBytes(2).toString("hex")}`
