/**
 * A leader-for-life candidate of ours (ConfigMap lock, default retry schedule) with every watch disabled: the
 * ConfigMaps and Pods services answer `watch` with a stream that never emits, so a waiting follower wakes only
 * on the retry schedule (1, 2, 4, 8, 16, 30, 30 ... s, jittered 0.8 to 1.2), as zio-k8s and operator-lib do.
 * The benchmark compares it with the watch-driven candidate (scripts/candidate.ts --lock configmap).
 * Same event lines as scripts/candidate.ts ("ready", "started_leading", "stopped_leading", "error").
 *
 *   tsx bench/lflCandidate.ts --kubeconfig K --namespace N --name LOCK --identity POD_NAME
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { Cause, Effect, Layer, Stream } from "effect"
import { parseArgs } from "node:util"
import { ConfigMaps, ContextInfo, K8sClient, LeaderElection, Pods } from "../src/index.js"
import { eventEmitter } from "../testkit/events.js"

const { values: flags } = parseArgs({
  options: {
    kubeconfig: { type: "string" },
    namespace: { type: "string", default: "default" },
    name: { type: "string" },
    identity: { type: "string" }
  }
})
const name = flags.name
const identity = flags.identity
if (name === undefined || identity === undefined) throw new Error("--name and --identity are required")

const emit = eventEmitter(identity)

const client = flags.kubeconfig === undefined ? K8sClient.layer : K8sClient.fromFile(flags.kubeconfig)
const configMaps = Layer.effect(
  ConfigMaps,
  Effect.map(ConfigMaps, (service) => ({ ...service, watch: () => Stream.never }))
).pipe(Layer.provide(ConfigMaps.live))
const pods = Layer.effect(
  Pods,
  Effect.map(Pods, (service) => ({ ...service, watch: () => Stream.never }))
).pipe(Layer.provide(Pods.live))
const resources = Layer.mergeAll(configMaps, pods).pipe(Layer.provide(client))
const context = ContextInfo.test({ namespace: flags.namespace, podName: identity })

const program = Effect.gen(function*() {
  yield* emit("ready")
  yield* LeaderElection.runAsLeader(
    emit("started_leading", identity).pipe(
      Effect.zipRight(Effect.never),
      Effect.onExit(() => emit("stopped_leading", identity))
    )
  )
}).pipe(
  Effect.provide(LeaderElection.configMapLock(name).pipe(Layer.provide(Layer.merge(resources, context)))),
  Effect.tapErrorCause((cause) => emit("error", Cause.pretty(cause).split("\n")[0] ?? ""))
)

NodeRuntime.runMain(program, { disableErrorReporting: false })
