/**
 * One candidate process of the Effect 4 edition, the twin of testkit/candidate.ts (Effect 3) and tools/candidate
 * (client-go): the same flags and the same JSON event lines (testkit/candidateFlags.ts), so that the integration
 * suites, the safety suite and the benchmarks start any of the three on one Lease.
 *
 *   node effect4/.build/candidate.mjs --kubeconfig K --namespace N --lock lease --name L --identity I \
 *     [--lease-duration 15s --renew-deadline 10s --retry-period 2s] [--repeat] [--step-down-on-usr2]
 *
 * SIGTERM or SIGINT: the protected work is interrupted, the lock released, and the process exits 0.
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { Cause, Deferred, Duration, Effect, Exit, Layer, Option, References, Runtime, Stream } from "effect"
import {
  ConfigMaps,
  ContextInfo,
  K8sClient,
  LeaderElection,
  type LeaderElectionConfigError,
  LeaderLocks,
  type LeaseLockOptions,
  Leases,
  Pods
} from "../../src/effect4/index.js"
import { type CandidateFlags, parseCandidateFlags, writeEventLine } from "../../testkit/candidateFlags.js"

const lockLayer = (
  kind: CandidateFlags["lock"],
  name: string,
  leaseOptions: LeaseLockOptions
): Layer.Layer<LeaderElection, LeaderElectionConfigError, ContextInfo | Pods | ConfigMaps | LeaderLocks | Leases> => {
  switch (kind) {
    case "configmap":
      return LeaderElection.configMapLock(name)
    case "leaderlock":
      return LeaderElection.customLeaderLock(name)
    case "lease":
      return LeaderElection.leaseLock(name, leaseOptions)
  }
}

const flags = parseCandidateFlags()
const identity = flags.identity
const emit = (event: string, leader = ""): Effect.Effect<void> =>
  Effect.sync(() => writeEventLine(identity, event, leader))

const client = flags.kubeconfig === undefined ? K8sClient.layer : K8sClient.fromFile(flags.kubeconfig)
const resources = Layer.mergeAll(Pods.live, ConfigMaps.live, Leases.live, LeaderLocks.live).pipe(Layer.provide(client))
const context = ContextInfo.test({ namespace: flags.namespace, podName: identity })
const lock = lockLayer(flags.lock, flags.name, {
  leaseDuration: Duration.millis(flags.leaseDurationMillis),
  renewDeadline: Duration.millis(flags.renewDeadlineMillis),
  retryPeriod: Duration.millis(flags.retryPeriodMillis)
})

const lead = LeaderElection.runAsLeader(
  emit("started_leading", identity).pipe(
    Effect.andThen(Effect.never),
    Effect.onExit(() => emit("stopped_leading", identity))
  )
)

/** Leads until SIGUSR2, releases, and enters the election again once another candidate has led, forever. */
const leadUntilUsr2 = Effect.gen(function*() {
  const stepDown = yield* Deferred.make<void>()
  const onSignal = () => Deferred.doneUnsafe(stepDown, Effect.void)
  process.once("SIGUSR2", onSignal)
  yield* LeaderElection.runAsLeader(
    emit("started_leading", identity).pipe(
      Effect.andThen(Deferred.await(stepDown)),
      Effect.onExit(() => emit("stopped_leading", identity))
    )
  ).pipe(Effect.ensuring(Effect.sync(() => process.removeListener("SIGUSR2", onSignal))))
  // Step aside until another candidate leads: entering again at once would often win the free Lease again.
  yield* LeaderElection.leaderChanges.pipe(
    Effect.flatMap((changes) =>
      changes.pipe(Stream.filter((leader) => Option.isSome(leader) && leader.value !== identity), Stream.runHead)
    )
  )
}).pipe(Effect.forever)

const program = Effect.gen(function*() {
  const election = yield* LeaderElection
  yield* election.leaderChanges.pipe(
    Stream.runForEach((leader) => emit("new_leader", Option.getOrElse(leader, () => ""))),
    Effect.forkScoped
  )
  yield* emit("ready")
  yield* flags.stepDownOnUsr2
    ? leadUntilUsr2
    : flags.repeat
    ? lead.pipe(Effect.repeat({ while: Option.isNone }))
    : lead
}).pipe(
  Effect.scoped,
  Effect.provide(lock.pipe(Layer.provide(Layer.merge(resources, context)))),
  Effect.tapCause((cause) => emit("error", Cause.pretty(cause).split("\n")[0] ?? "")),
  Effect.provideService(References.MinimumLogLevel, flags.verbose ? "Debug" : "Info")
)

NodeRuntime.runMain(program, {
  disableErrorReporting: false,
  // Effect 4's default teardown exits 130 when SIGTERM/SIGINT interrupt the main fiber (Effect 3's exited 0). Here
  // that interruption is the graceful shutdown, the lock released: exit 0, as the Effect 3 and client-go candidates do.
  teardown: (exit, onExit) =>
    Exit.isFailure(exit) && Cause.hasInterruptsOnly(exit.cause) ? onExit(0) : Runtime.defaultTeardown(exit, onExit)
})
