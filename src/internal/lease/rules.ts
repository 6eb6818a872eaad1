/**
 * The rules of the Lease lock's settings (client-go's and ours), with no Effect in them: shared by both editions,
 * which decode the durations with their own `Duration` and hand them here.
 */

/** client-go's JitterFactor: renewDeadline must leave room for one jittered retry. */
export const jitterFactor = 1.2

/** The defaults of the durations, as both editions' `Duration` inputs accept them. */
export const defaults = {
  leaseDuration: "15 seconds",
  renewDeadline: "10 seconds",
  retryPeriod: "2 seconds"
} as const

/** A broken rule: its name (`LeaderElectionConfigError.rule`) and what to do about it. */
export interface BrokenRule {
  readonly rule: string
  readonly detail: string
}

/** The rule an option that is no duration breaks. */
export const notADuration = (name: string, input: unknown): BrokenRule => ({
  rule: `${name} is a duration`,
  detail: `${name} ${String(input)} is not a duration; use e.g. "15 seconds" or a number of milliseconds`
})

/** The settings' durations, in the edition's own `Duration`. */
export interface Durations<D> {
  readonly leaseDuration: D
  readonly renewDeadline: D
  readonly retryPeriod: D
  readonly requestTimeout: D
}

/** What the rules need of the edition's `Duration` module. */
export interface DurationOps<D> {
  readonly zero: D
  readonly greaterThan: (self: D, that: D) => boolean
  readonly toMillis: (self: D) => number
  readonly format: (self: D) => string
}

/** The first rule the settings break, or `undefined`. */
export const brokenRule = <D>(
  durations: Durations<D>,
  identity: string,
  { format, greaterThan, toMillis, zero }: DurationOps<D>
): BrokenRule | undefined => {
  const { leaseDuration, renewDeadline, requestTimeout, retryPeriod } = durations
  const rules: ReadonlyArray<readonly [boolean, string, string]> = [
    [
      [leaseDuration, renewDeadline, retryPeriod, requestTimeout].every((d) => greaterThan(d, zero)),
      "all durations > 0",
      "leaseDuration, renewDeadline, retryPeriod and requestTimeout must all be positive"
    ],
    [
      toMillis(leaseDuration) % 1000 === 0,
      "leaseDuration is whole seconds",
      `leaseDuration ${format(leaseDuration)} must be a whole number of seconds: the Lease stores leaseDurationSeconds`
    ],
    [
      greaterThan(leaseDuration, renewDeadline),
      "leaseDuration > renewDeadline",
      `leaseDuration ${format(leaseDuration)} must be greater than renewDeadline ${format(renewDeadline)}`
    ],
    [
      toMillis(renewDeadline) > jitterFactor * toMillis(retryPeriod),
      "renewDeadline > 1.2 x retryPeriod",
      `renewDeadline ${format(renewDeadline)} must be greater than 1.2 x retryPeriod ${format(retryPeriod)}`
    ],
    [
      greaterThan(renewDeadline, requestTimeout),
      "requestTimeout < renewDeadline",
      `requestTimeout ${format(requestTimeout)} must be less than renewDeadline ${format(renewDeadline)}`
    ],
    [identity.length > 0, "identity is not empty", "identity must not be empty"]
  ]
  const broken = rules.find(([holds]) => !holds)
  return broken === undefined ? undefined : { rule: broken[1], detail: broken[2] }
}
