import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber, Layer, Option, TestClock } from "effect"
import { ContextInfo, InMemoryCluster, LeaderElection, Pods } from "../src/index.js"

describe("smoke", () => {
  it.scoped("leads", () =>
    Effect.gen(function*() {
      const cluster = yield* Layer.build(InMemoryCluster.layer)
      const pods = yield* Effect.provide(Pods, cluster)
      yield* pods.create({ metadata: { name: "a", namespace: "ns" } })
      const election = LeaderElection.configMapLock("lock").pipe(
        Layer.provide(ContextInfo.test({ namespace: "ns", podName: "a" })),
        Layer.provide(Layer.succeedContext(cluster))
      )
      const result = yield* LeaderElection.runAsLeader(Effect.succeed(42)).pipe(Effect.provide(election))
      expect(result).toEqual(Option.some(42))
      const fiber = yield* Effect.fork(TestClock.adjust("1 second"))
      yield* Fiber.join(fiber)
    }))
})
