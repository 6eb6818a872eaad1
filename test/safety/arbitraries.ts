/**
 * The fast-check generators of the safety suite (docs/safety.md).
 */
import fc from "fast-check"
import {
  type Action,
  defaults,
  fast,
  leaderSlot,
  maxPermille,
  minPermille,
  type Profile,
  type Scenario
} from "./leaseModel.js"
import { type LflAction, lflLeaderSlot, type LflScenario } from "./lflModel.js"

const actionArb = (profile: Profile, horizon: number): fc.Arbitrary<Action> => {
  const at = fc.integer({ min: 0, max: horizon })
  // 0 to 4: a slot; 5 (leaderSlot): whoever leads when the action happens.
  const slot = fc.oneof(fc.nat(4), fc.constant(leaderSlot))
  const duration = fc.integer({ min: 100, max: Math.round(2.5 * profile.leaseDuration) })
  const percent = fc.integer({ min: 10, max: 100 })
  return fc.oneof(
    { weight: 3, arbitrary: fc.record({ kind: fc.constant("start" as const), at, slot, sameIdentity: fc.boolean() }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant("stop" as const), at, slot }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant("crash" as const), at, slot }) },
    {
      weight: 2,
      arbitrary: fc.record({
        kind: fc.constant("errors" as const),
        at,
        slot,
        duration,
        percent,
        reason: fc.constantFrom("ServerError" as const, "Timeout" as const)
      })
    },
    {
      weight: 2,
      arbitrary: fc.record({
        kind: fc.constant("latency" as const),
        at,
        slot,
        duration,
        max: fc.integer({ min: 1, max: 2 * profile.requestTimeout })
      })
    },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant("conflicts" as const), at, slot, duration, percent }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant("lostResponses" as const), at, slot, duration, percent }) },
    {
      weight: 2,
      arbitrary: fc.record({ kind: fc.constant("partition" as const), at, slot, duration, dropWatch: fc.boolean() })
    },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant("pause" as const), at, slot, duration }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant("dropWatches" as const), at }) },
    // Ordinary events outside the protocol (issue 10): foreign writers, deletions, defects, flapping watches,
    // late commits, rotated credentials.
    {
      weight: 3,
      arbitrary: fc.record({
        kind: fc.constant("foreignWrite" as const),
        at,
        field: fc.constantFrom(
          "holder" as const,
          "duration" as const,
          "renewTime" as const,
          "acquireTime" as const,
          "transitions" as const,
          "labels" as const
        ),
        value: fc.nat(1000)
      })
    },
    {
      weight: 2,
      arbitrary: fc.record({
        kind: fc.constant("deleteLease" as const),
        at,
        recreate: fc.constantFrom("no" as const, "empty" as const, "snapshot" as const)
      })
    },
    {
      weight: 1,
      arbitrary: fc.record({
        kind: fc.constant("defects" as const),
        at,
        slot,
        duration,
        percent,
        interrupt: fc.boolean()
      })
    },
    // Up to a minute: API Priority and Fairness can throttle a client that long.
    {
      weight: 2,
      arbitrary: fc.record({
        kind: fc.constant("watchFlap" as const),
        at,
        slot,
        duration: fc.integer({ min: 100, max: 60_000 })
      })
    },
    {
      weight: 2,
      arbitrary: fc.record({
        kind: fc.constant("lateCommit" as const),
        at,
        slot,
        duration,
        percent,
        delay: fc.integer({ min: 1, max: 2 * profile.requestTimeout })
      })
    },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant("rotateCredentials" as const), at, slot }) }
  )
}

export const scenarioArb: fc.Arbitrary<Scenario> = fc.oneof(
  { weight: 4, arbitrary: fc.constant(fast) },
  { weight: 1, arbitrary: fc.constant(defaults) }
).chain((profile) =>
  fc.record({
    seed: fc.integer(),
    profile: fc.constant(profile),
    slots: fc.integer({ min: 2, max: 5 }),
    permille: fc.array(
      fc.oneof(fc.constantFrom(minPermille, 1000, maxPermille), fc.integer({ min: minPermille, max: maxPermille })),
      { minLength: 5, maxLength: 5 }
    ),
    initial: fc.array(fc.option(fc.integer({ min: 0, max: profile.leaseDuration }), { nil: null }), {
      minLength: 5,
      maxLength: 5
    }),
    actions: fc.array(actionArb(profile, 8 * profile.leaseDuration), { minLength: 1, maxLength: 30 }),
    lanes: fc.integer({ min: 1, max: 3 })
  })
)

const lflAt = fc.integer({ min: 0, max: 120_000 })
// 0 to 3: a slot; 4 (lflLeaderSlot): the leader's.
const lflSlot = fc.oneof(fc.nat(3), fc.constant(lflLeaderSlot))

const lflActionArb: fc.Arbitrary<LflAction> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant("start" as const),
      at: fc.integer({ min: 0, max: 120_000 }),
      slot: fc.nat(3)
    })
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant("deletePod" as const),
      at: fc.integer({ min: 0, max: 120_000 }),
      // 0 to 3: a slot; 4 (lflLeaderSlot): the leader's Pod.
      slot: fc.oneof(fc.nat(3), fc.constant(lflLeaderSlot)),
      crash: fc.boolean()
    })
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant("errors" as const),
      at: fc.integer({ min: 0, max: 120_000 }),
      slot: fc.nat(3),
      duration: fc.integer({ min: 100, max: 20_000 }),
      percent: fc.integer({ min: 10, max: 100 })
    })
  },
  // Ordinary events outside the protocol (issue 10).
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant("evict" as const),
      at: lflAt,
      slot: lflSlot,
      finalizerFor: fc.oneof(fc.constant(0), fc.integer({ min: 100, max: 20_000 }))
    })
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("editOwner" as const),
      at: lflAt,
      duration: fc.integer({ min: 100, max: 20_000 })
    })
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("deleteLock" as const), at: lflAt, recreate: fc.boolean() }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("defects" as const),
      at: lflAt,
      slot: lflSlot,
      duration: fc.integer({ min: 100, max: 20_000 }),
      percent: fc.integer({ min: 10, max: 100 }),
      interrupt: fc.boolean()
    })
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("watchFlap" as const),
      at: lflAt,
      slot: lflSlot,
      duration: fc.integer({ min: 100, max: 60_000 })
    })
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("lateCommit" as const),
      at: lflAt,
      slot: lflSlot,
      duration: fc.integer({ min: 100, max: 20_000 }),
      percent: fc.integer({ min: 10, max: 100 }),
      delay: fc.integer({ min: 1, max: 10_000 })
    })
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("rotateCredentials" as const), at: lflAt, slot: lflSlot }) }
)

export const lflScenarioArb: fc.Arbitrary<LflScenario> = fc.record({
  seed: fc.integer(),
  slots: fc.integer({ min: 2, max: 4 }),
  actions: fc.array(lflActionArb, { minLength: 2, maxLength: 30, size: "medium" }),
  lanes: fc.integer({ min: 1, max: 3 })
})
