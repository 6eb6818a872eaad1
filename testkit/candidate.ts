/**
 * One candidate process of ours, the twin of tools/candidate (client-go): the integration tests, the safety suite
 * and the benchmarks start it as a real process. One JSON line per event on stdout:
 *   {"event":"ready"|"started_leading"|"stopped_leading"|"new_leader"|"error","identity","leader","mono_ns","wall"}
 * `mono_ns` is CLOCK_MONOTONIC (process.hrtime), comparable across processes of one machine.
 * SIGTERM or SIGINT: the protected work is interrupted, the lock released, and the process exits 0.
 *
 *   tsx testkit/candidate.ts --kubeconfig K --namespace N --lock lease --name L --identity I \
 *     [--lease-duration 15s --renew-deadline 10s --retry-period 2s] [--repeat]
 *   tsx testkit/candidate.ts --lock configmap|leaderlock --name L --identity POD_NAME ...
 *
 * With --step-down-on-usr2, SIGUSR2 ends the protected work of a leader (it releases) and the process enters the
 * election again: the bench's warm handovers, between processes that have led before.
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { Cause, Deferred, Duration, Effect, Layer, Logger, LogLevel, Option, Stream } from "effect"
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
} from "../src/index.js"
import { type CandidateFlags, parseCandidateFlags } from "./candidateFlags.js"
import { eventEmitter } from "./events.js"

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

const emit = eventEmitter(identity)

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
    Effect.zipRight(Effect.never),
    Effect.onExit(() => emit("stopped_leading", identity))
  )
)

/** Leads until SIGUSR2, releases, and enters the election again once another candidate has led, forever. */
const leadUntilUsr2 = Effect.gen(function*() {
  const stepDown = yield* Deferred.make<void>()
  const onSignal = () => Deferred.unsafeDone(stepDown, Effect.void)
  process.once("SIGUSR2", onSignal)
  yield* LeaderElection.runAsLeader(
    emit("started_leading", identity).pipe(
      Effect.zipRight(Deferred.await(stepDown)),
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
  Effect.tapErrorCause((cause) => emit("error", Cause.pretty(cause).split("\n")[0] ?? "")),
  Logger.withMinimumLogLevel(flags.verbose ? LogLevel.Debug : LogLevel.Info)
)

NodeRuntime.runMain(program, { disableErrorReporting: false })
