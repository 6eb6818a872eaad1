/**
 * The seed's example, zio-k8s's "Guarding the code", ported line by line (the Scala is in the comments), on Effect 4:
 * a leader-for-life lock on a ConfigMap named `leader-example-lock` guards an effect that logs "Got leader role" and
 * then runs forever. The Effect 3 edition is examples/seed.ts.
 *
 *   npm run example:seed:effect4      # the in-memory cluster: creates this replica's Pod, leads, and after
 *                                     # --duration (default 3s) stops: the lock is released, the process exits
 *   KUBECONFIG=~/.kube/config POD_NAME=my-pod npm run example:seed:effect4   # a real cluster, until Ctrl-C
 *   npm run example:seed:effect4 -- --kubeconfig FILE --identity my-pod --create-pod   # outside a Pod: creates it
 *
 * In a real cluster the lock is owned by the Pod named POD_NAME, which must exist (`--create-pod` creates one with
 * no node, for trying it from a laptop); RBAC: deploy/rbac/configmap-lock.yaml.
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { Effect, Option, References } from "effect"
import { parseArgs } from "node:util"
// import com.coralogix.zio.k8s.client.v1.configmaps.ConfigMaps
// import com.coralogix.zio.k8s.client.v1.pods.Pods
// import com.coralogix.zio.k8s.client.K8sFailure
// import com.coralogix.zio.k8s.operator.contextinfo.ContextInfo
// import com.coralogix.zio.k8s.operator.leader
// import com.coralogix.zio.k8s.operator.leader.LeaderElection
import { ConfigMaps, ContextInfo, LeaderElection, type LeaderElectionError, Pods } from "../../src/effect4/index.js"
import { clusterOptions, duration, target } from "./cluster.js"

const { values: flags } = parseArgs({
  options: { ...clusterOptions, duration: { type: "string" }, "create-pod": { type: "boolean", default: false } }
})
const cluster = target(flags)

// def example(): ZIO[
//   LeaderElection,
//   Nothing,
//   Option[Nothing]
// ] =
//   leader.runAsLeader {
//     exampleLeader()
//   }
const example = (): Effect.Effect<
  Option.Option<never>,
  LeaderElectionError, // zio-k8s: Nothing; here the errors no retry fixes (a missing Pod, a 403) end the election
  LeaderElection
> =>
  LeaderElection.runAsLeader(
    exampleLeader()
  )

// def exampleLeader(): ZIO[Any, Nothing, Nothing] =
//   ZIO.logInfo(s"Got leader role") *> ZIO.never
const exampleLeader = (): Effect.Effect<never> => Effect.logInfo(`Got leader role`).pipe(Effect.andThen(Effect.never))

// example.provide(
//   k8sDefault,
//   ContextInfo.live,
//   Pods.live,
//   ConfigMaps.live,
//   LeaderElection.configMapLock("leader-example-lock")
// )
const provided = example().pipe(
  Effect.provide(LeaderElection.configMapLock("leader-example-lock")),
  // ContextInfo.live (POD_NAME, POD_NAMESPACE) in a Pod; a fixed identity in memory or with --identity.
  Effect.provide(cluster.context("example-pod"))
  // k8sDefault, Pods.live, ConfigMaps.live: provided below with `cluster.resources` (K8sClient from $KUBECONFIG or
  // --kubeconfig; the in-memory cluster without either).
)

// Not in the seed: in memory (and with --create-pod) this replica's Pod must exist first, and a demonstration ends.
const program = Effect.gen(function*() {
  const { namespace, podName } = yield* ContextInfo
  yield* Effect.logInfo(`leader-example-lock in namespace ${namespace} as ${podName}, on ${cluster.describe}`)
  if (cluster.inMemory || flags["create-pod"]) {
    const pods = yield* Pods
    yield* pods.create({
      metadata: { name: podName, namespace },
      spec: { containers: [{ name: "operator", image: "registry.k8s.io/pause:3.10" }] }
    }).pipe(Effect.catchIf((error) => error.reason === "AlreadyExists", () => Effect.void))
  }
  const stopAfter = flags.duration ?? (cluster.inMemory ? "3s" : undefined)
  if (stopAfter === undefined) return yield* provided
  const result = yield* Effect.timeoutOption(provided, duration(stopAfter))
  yield* Effect.logInfo(
    Option.isNone(result)
      ? `stopped after --duration ${stopAfter}: the guarded effect was interrupted and the lock released`
      : "runAsLeader returned"
  )
  const lock = yield* Effect.flatMap(ConfigMaps, (configMaps) => configMaps.get("leader-example-lock", namespace)).pipe(
    Effect.option
  )
  yield* Effect.logInfo(Option.isNone(lock) ? "leader-example-lock is gone" : "leader-example-lock still exists")
}).pipe(
  Effect.provide(cluster.context("example-pod")),
  Effect.provide(cluster.resources),
  Effect.provideService(References.MinimumLogLevel, flags.verbose ? "Debug" : "Info")
)

NodeRuntime.runMain(program)
