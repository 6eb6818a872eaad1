/**
 * Graceful shutdown under `NodeRuntime.runMain`: SIGTERM (what Kubernetes sends a Pod that is stopping) or SIGINT
 * interrupts the program: the protected effect is interrupted first (its finalizers run), then the Lease is released
 * (its holder cleared) so that a standby takes over at once instead of after the lease duration, and the process
 * exits 0. Lines starting with `graceful-shutdown:` on stdout mark each step. The Effect 4 edition of
 * examples/graceful-shutdown.ts.
 *
 *   npm run example:shutdown:effect4   # in memory: leads, then sends itself SIGTERM after --duration (default 2s)
 *   npm run example:shutdown:effect4 -- --kubeconfig FILE --identity replica-1   # a real cluster, until SIGTERM
 *   KUBECONFIG=FILE POD_NAME=replica-1 npm run example:shutdown:effect4
 *     [--name graceful-shutdown] [--lease-duration 15s --renew-deadline 10s --retry-period 2s] [--duration 10s]
 *
 * terminationGracePeriodSeconds must leave room for the release: at most one requestTimeout (half of renewDeadline by
 * default) per attempt; see deploy/example/deployment.yaml. RBAC: deploy/rbac/lease-lock.yaml.
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { Cause, Effect, Exit, References, Runtime, Schedule } from "effect"
import { parseArgs } from "node:util"
import { ContextInfo, LeaderElection } from "../../src/effect4/index.js"
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
      Effect.andThen(Effect.never)
    )
  }).pipe(Effect.onInterrupt(() => say("interrupted: the protected effect stopped its work")))

const program = Effect.gen(function*() {
  const { namespace, podName } = yield* ContextInfo
  yield* say(`pid ${process.pid}, Lease ${flags.name} in ${namespace}, on ${cluster.describe}`)
  const stopAfter = flags.duration ?? (cluster.inMemory ? "2s" : undefined)
  if (stopAfter !== undefined) {
    // The demonstration: the same signal Kubernetes would send, through the same path.
    yield* Effect.sleep(duration(stopAfter)).pipe(
      Effect.andThen(say(`sending myself SIGTERM after --duration ${stopAfter}`)),
      Effect.andThen(Effect.sync(() => process.kill(process.pid, "SIGTERM"))),
      Effect.forkDetach
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
  Effect.provideService(References.MinimumLogLevel, flags.verbose ? "Debug" : "Info")
)

/**
 * Effect 4's runMain exits 130 when a signal interrupted the program (Effect 3's exited 0). Stopping when asked to is
 * this program's normal end, so an interruption alone exits 0; anything else as `Runtime.defaultTeardown` decides.
 */
const teardown: Runtime.Teardown = (exit, onExit) =>
  Exit.isFailure(exit) && Cause.hasInterruptsOnly(exit.cause) ? onExit(0) : Runtime.defaultTeardown(exit, onExit)

// runMain: SIGTERM/SIGINT interrupt the main fiber, finalizers run, and (with the teardown above) exit with code 0.
NodeRuntime.runMain(program, { teardown })
