/**
 * One candidate process of ours, the twin of tools/candidate (client-go): the integration tests, the safety suite
 * and the benchmarks start it as a real process. One JSON line per event on stdout:
 *   {"event":"ready"|"started_leading"|"stopped_leading"|"new_leader"|"error","identity","leader","mono_ns","wall"}
 * `mono_ns` is CLOCK_MONOTONIC (process.hrtime), comparable across processes of one machine.
 * SIGTERM or SIGINT: the protected work is interrupted, the lock released, and the process exits 0.
 *
 *   tsx scripts/candidate.ts --kubeconfig K --namespace N --lock lease --name L --identity I \
 *     [--lease-duration 15s --renew-deadline 10s --retry-period 2s] [--repeat]
 *   tsx scripts/candidate.ts --lock configmap|leaderlock --name L --identity POD_NAME ...
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { Cause, Effect, Layer, Logger, LogLevel, Option, Stream } from "effect"
import { parseArgs } from "node:util"
import { duration, isLockKind, lockLayer } from "../examples/cluster.js"
import { ConfigMaps, ContextInfo, K8sClient, LeaderElection, LeaderLocks, Leases, Pods } from "../src/index.js"
import { eventEmitter } from "./events.js"

const { values: flags } = parseArgs({
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
    verbose: { type: "boolean", default: false }
  }
})

const identity = flags.identity ?? `${process.pid}`
const name = flags.name
if (name === undefined) throw new Error("--name is required")

const emit = eventEmitter(identity)

const client = flags.kubeconfig === undefined ? K8sClient.layer : K8sClient.fromFile(flags.kubeconfig)
const resources = Layer.mergeAll(Pods.live, ConfigMaps.live, Leases.live, LeaderLocks.live).pipe(Layer.provide(client))
const context = ContextInfo.test({ namespace: flags.namespace, podName: identity })
if (!isLockKind(flags.lock)) throw new Error(`--lock must be configmap, leaderlock or lease, not "${flags.lock}"`)
const lock = lockLayer(flags.lock, name, {
  leaseDuration: duration(flags["lease-duration"]),
  renewDeadline: duration(flags["renew-deadline"]),
  retryPeriod: duration(flags["retry-period"])
})

const lead = LeaderElection.runAsLeader(
  emit("started_leading", identity).pipe(
    Effect.zipRight(Effect.never),
    Effect.onExit(() => emit("stopped_leading", identity))
  )
)

const program = Effect.gen(function*() {
  const election = yield* LeaderElection
  yield* election.leaderChanges.pipe(
    Stream.runForEach((leader) => emit("new_leader", Option.getOrElse(leader, () => ""))),
    Effect.forkScoped
  )
  yield* emit("ready")
  yield* flags.repeat ? lead.pipe(Effect.repeat({ while: Option.isNone })) : lead
}).pipe(
  Effect.scoped,
  Effect.provide(lock.pipe(Layer.provide(Layer.merge(resources, context)))),
  Effect.tapErrorCause((cause) => emit("error", Cause.pretty(cause).split("\n")[0] ?? "")),
  Logger.withMinimumLogLevel(flags.verbose ? LogLevel.Debug : LogLevel.Info)
)

NodeRuntime.runMain(program, { disableErrorReporting: false })
