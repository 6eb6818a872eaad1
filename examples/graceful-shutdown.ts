/**
 * Graceful shutdown under `NodeRuntime.runMain`: SIGTERM (what Kubernetes sends a Pod that is stopping) or SIGINT
 * interrupts the program: the protected effect is interrupted first (its finalizers run), then the Lease is released
 * (its holder cleared) so that a standby takes over at once instead of after the lease duration, and the process
 * exits 0. Lines starting with `graceful-shutdown:` on stdout mark each step.
 *
 *   npm run example:shutdown      # in memory: leads, then sends itself SIGTERM after --duration (default 2s)
 *   npm run example:shutdown -- --kubeconfig FILE --identity replica-1   # a real cluster, until SIGTERM or Ctrl-C
 *   KUBECONFIG=FILE POD_NAME=replica-1 npm run example:shutdown
 *     [--name graceful-shutdown] [--lease-duration 15s --renew-deadline 10s --retry-period 2s] [--duration 10s]
 *
 * terminationGracePeriodSeconds must leave room for the release: at most one requestTimeout (half of renewDeadline by
 * default) per attempt; see deploy/example/deployment.yaml. RBAC: deploy/rbac/lease-lock.yaml.
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { Effect, Logger, LogLevel, Schedule } from "effect"
import { parseArgs } from "node:util"
import { ContextInfo, LeaderElection } from "../src/index.js"
import { clusterOptions, duration, target } from "./cluster.js"

const { values: flags } = parseArgs({
  options: {
    ...clusterOptions,
    name: { type: "string", default: "graceful-shutdown" },
    "lease-duration": { type: "string", default: "15s" },
    "renew-deadline": { type: "string", default: "10s" },
    "retry-period": { type: "string", default: "2s" },
    duration: { type: "string" }
  }
})
const cluster = target(flags)

const say = (line: string) =>
  Effect.sync(() => process.stdout.write(`graceful-shutdown: ${line} mono_ns=${process.hrtime.bigint()}\n`))

/** The protected effect: works until interrupted, then cleans up (here: only says so) before the lock goes. */
const work = (identity: string) =>
  Effect.gen(function*() {
    yield* say(`leading as ${identity}`)
    return yield* Effect.logInfo("working").pipe(
      Effect.repeat(Schedule.spaced("1 second")),
      Effect.zipRight(Effect.never)
    )
  }).pipe(Effect.onInterrupt(() => say("interrupted: the protected effect stopped its work")))

const program = Effect.gen(function*() {
  const { namespace, podName } = yield* ContextInfo
  yield* say(`pid ${process.pid}, Lease ${flags.name} in ${namespace}, on ${cluster.describe}`)
  const stopAfter = flags.duration ?? (cluster.inMemory ? "2s" : undefined)
  if (stopAfter !== undefined) {
    // The demonstration: the same signal Kubernetes would send, through the same path.
    yield* Effect.sleep(duration(stopAfter)).pipe(
      Effect.zipRight(say(`sending myself SIGTERM after --duration ${stopAfter}`)),
      Effect.zipRight(Effect.sync(() => process.kill(process.pid, "SIGTERM"))),
      Effect.forkDaemon
    )
  }
  yield* LeaderElection.runAsLeader(work(podName))
}).pipe(
  // Runs after the release: the Lease's finalizer has cleared the holder by now.
  Effect.onInterrupt(() => say("released the Lease; exiting")),
  Effect.provide(
    LeaderElection.leaseLock(flags.name, {
      leaseDuration: duration(flags["lease-duration"]),
      renewDeadline: duration(flags["renew-deadline"]),
      retryPeriod: duration(flags["retry-period"])
    })
  ),
  Effect.provide(cluster.context("replica-1")),
  Effect.provide(cluster.resources),
  Logger.withMinimumLogLevel(flags.verbose ? LogLevel.Debug : LogLevel.Info)
)

// runMain: SIGTERM/SIGINT interrupt the main fiber, finalizers run, and an interruption exits with code 0.
NodeRuntime.runMain(program)
