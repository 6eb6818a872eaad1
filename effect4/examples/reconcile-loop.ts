/**
 * An operator-style reconcile loop under a Lease, with re-election after loss: the loop runs only while this replica
 * leads; when leadership is lost the loop is interrupted, `runAsLeader` returns `None`, and
 * `Effect.repeat({ while: Option.isNone })` enters the election again. The Effect 4 edition of
 * examples/reconcile-loop.ts.
 *
 * The reconcile keeps a ConfigMap `reconcile-loop-status` up to date (the "desired state" of this toy operator),
 * stamping each write with the leadership's term, the fencing token.
 *
 *   npm run example:reconcile:effect4   # in memory, demonstrates then exits: reconciles, the Lease is taken away
 *                                       # (written by hand, as `kubectl edit` would), the loop stops, re-enters the
 *                                       # election, waits out the thief's lease, leads and reconciles again
 *   npm run example:reconcile:effect4 -- --kubeconfig FILE --identity op-1 [--duration 30s] [--steal-after 5s]
 *   KUBECONFIG=FILE POD_NAME=op-1 npm run example:reconcile:effect4   # a real cluster, until Ctrl-C
 *
 * RBAC: deploy/rbac/lease-lock.yaml, plus get/create/update on ConfigMaps for the reconcile itself.
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { Clock, Duration, Effect, Fiber, Option, Ref, References, Schedule } from "effect"
import { parseArgs } from "node:util"
import { ConfigMaps, ContextInfo, formatMicroTime, LeaderElection, Leases } from "../../src/effect4/index.js"
import { clusterOptions, duration, target } from "./cluster.js"

const { values: flags } = parseArgs({
  options: {
    ...clusterOptions,
    name: { type: "string", default: "reconcile-loop" },
    "lease-duration": { type: "string" },
    "renew-deadline": { type: "string" },
    "retry-period": { type: "string" },
    "reconcile-every": { type: "string", default: "500ms" },
    "steal-after": { type: "string" },
    duration: { type: "string" }
  }
})
const cluster = target(flags)
// In memory the demonstration uses short durations so that it is over in seconds; real clusters get the defaults.
const fastInMemory = (value: string | undefined, fast: string, real: string) =>
  duration(value ?? (cluster.inMemory ? fast : real))
const leaseDuration = fastInMemory(flags["lease-duration"], "2s", "15s")
const renewDeadline = fastInMemory(flags["renew-deadline"], "1500ms", "10s")
const retryPeriod = fastInMemory(flags["retry-period"], "500ms", "2s")
const statusName = "reconcile-loop-status"

/** One reconcile: bring the status ConfigMap to the desired state. Idempotent, as every reconcile should be. */
const reconcileOnce = (identity: string, term: number, count: number) =>
  Effect.gen(function*() {
    const configMaps = yield* ConfigMaps
    const { namespace } = yield* ContextInfo
    const data = {
      reconciledBy: identity,
      term: String(term),
      count: String(count),
      at: formatMicroTime(yield* Clock.currentTimeMillis)
    }
    const current = yield* configMaps.get(statusName, namespace).pipe(Effect.option)
    if (Option.isNone(current)) {
      yield* configMaps.create({ metadata: { name: statusName, namespace }, data })
    } else {
      // A fenced write: a former leader's late write carries an older term; a real target would refuse it.
      const previousTerm = Number(current.value.data?.["term"] ?? -1)
      if (previousTerm > term) return yield* Effect.logWarning(`term ${term} is stale (seen ${previousTerm})`)
      yield* configMaps.replace({ ...current.value, data })
    }
    yield* Effect.logInfo(`reconciled #${count} (term ${term})`)
  })

/**
 * The loop, while leading: `Some` if it ever ends by itself, `None` when leadership is lost first. Built on the scoped
 * `LeaderElection.leadership` rather than `runAsLeader` to have the term at hand; the shape is the same.
 */
const reconcileWhileLeading = (reconciled: Ref.Ref<number>) =>
  Effect.scoped(
    Effect.gen(function*() {
      const leadership = yield* LeaderElection.leadership
      yield* Effect.logInfo(`leading ${leadership.lock} as ${leadership.identity}, term ${leadership.term}`)
      const loop = Ref.updateAndGet(reconciled, (n) => n + 1).pipe(
        Effect.flatMap((count) => reconcileOnce(leadership.identity, leadership.term, count)),
        Effect.catch((error) => Effect.logWarning(`reconcile failed, next time: ${error.message}`)),
        Effect.repeat(Schedule.spaced(duration(flags["reconcile-every"])))
      )
      return yield* Effect.raceFirst(Effect.as(loop, Option.some("done")), Effect.as(leadership.lost, Option.none()))
    })
  ).pipe(
    Effect.tap((result) => Option.isNone(result) ? Effect.logWarning("leadership lost: re-entering") : Effect.void)
  )

/** Re-election after loss: `None`, and the repeat enters the election again (as `runAsLeader(...)` would). */
const operator = (reconciled: Ref.Ref<number>) =>
  reconcileWhileLeading(reconciled).pipe(Effect.repeat({ while: Option.isNone }))

/** The demonstration's thief: takes the Lease over by hand, as `kubectl edit lease` would, and never renews. */
const stealLease = Effect.gen(function*() {
  const leases = yield* Leases
  const { namespace } = yield* ContextInfo
  const lease = yield* leases.get(flags.name, namespace)
  const now = formatMicroTime(yield* Clock.currentTimeMillis)
  yield* leases.replace({
    ...lease,
    spec: {
      ...lease.spec,
      holderIdentity: "a-thief",
      acquireTime: now,
      renewTime: now,
      leaseTransitions: (lease.spec?.leaseTransitions ?? 0) + 1
    }
  })
  yield* Effect.logWarning(`the Lease was taken by hand: holder a-thief for ${lease.spec?.leaseDurationSeconds} s`)
})

const program = Effect.gen(function*() {
  const { podName } = yield* ContextInfo
  yield* Effect.logInfo(
    `operator ${podName}, Lease ${flags.name} (${Duration.format(leaseDuration)} / ${
      Duration.format(renewDeadline)
    } / ${Duration.format(retryPeriod)}), on ${cluster.describe}`
  )
  const reconciled = yield* Ref.make(0)
  const fiber = yield* Effect.forkChild(operator(reconciled))
  const stealAfter = flags["steal-after"] ?? (cluster.inMemory ? "2s" : undefined)
  const stopAfter = flags.duration ?? (cluster.inMemory ? "5s" : undefined)
  if (stealAfter !== undefined) {
    yield* Effect.sleep(duration(stealAfter)).pipe(Effect.andThen(stealLease), Effect.forkChild)
  }
  if (stopAfter === undefined) return yield* Fiber.join(fiber)
  yield* Effect.sleep(duration(stopAfter))
  yield* Fiber.interrupt(fiber)
  yield* Effect.logInfo(`stopped after --duration ${stopAfter}: ${yield* Ref.get(reconciled)} reconciles in all`)
}).pipe(
  Effect.provide(LeaderElection.leaseLock(flags.name, { leaseDuration, renewDeadline, retryPeriod })),
  Effect.provide(cluster.context("operator-1")),
  Effect.provide(cluster.resources),
  Effect.provideService(References.MinimumLogLevel, flags.verbose ? "Debug" : "Info")
)

NodeRuntime.runMain(program)
