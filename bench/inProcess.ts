/**
 * The library's own share of a graceful handover, with no I/O: two Lease candidates in one process on the in-memory
 * cluster; the leader's work ends, it releases, and the follower's work starts. Prints the p50/p95 of
 * release-start -> follower's work, in ms.
 *
 *   tsx bench/inProcess.ts [trials]
 */
import { Deferred, Effect, Layer, Logger, LogLevel } from "effect"
import { ContextInfo, InMemoryCluster, LeaderElection, Leases } from "../src/index.js"
import { stats } from "./stats.js"

const trials = Number(process.argv[2] ?? 200)

const releaseStarts: Array<number> = []
const samples: Array<number> = []
let handOverAt = 0
const program = Effect.gen(function*() {
  const leases = yield* Leases
  const cluster = yield* InMemoryCluster
  yield* cluster.setInterceptor((request, proceed) =>
    Effect.suspend(() => {
      if (request.verb === "update" && handOverAt > 0 && releaseStarts.length < samples.length + 1) {
        releaseStarts.push(performance.now() - handOverAt)
      }
      return proceed
    })
  )
  const candidate = (identity: string) =>
    Effect.map(
      Layer.build(
        LeaderElection.leaseLock("bench", {}).pipe(
          Layer.provide(Layer.succeed(Leases, leases)),
          Layer.provide(ContextInfo.test({ namespace: "default", podName: identity }))
        )
      ),
      (context) => context.unsafeMap.get(LeaderElection.key) as LeaderElection["Type"]
    )
  const [a, b] = [yield* candidate("a"), yield* candidate("b")]
  const work = (hold: Deferred.Deferred<void>) =>
    Effect.gen(function*() {
      if (handOverAt > 0) samples.push(performance.now() - handOverAt)
      yield* Deferred.await(hold)
      handOverAt = performance.now()
    })
  let holds: Record<string, Deferred.Deferred<void>> = {}
  const loop = (name: string, election: LeaderElection["Type"]) =>
    Effect.forever(Effect.gen(function*() {
      const hold = yield* Deferred.make<void>()
      holds[name] = hold
      yield* election.runAsLeader(work(hold))
    })).pipe(Effect.fork)
  yield* loop("a", a)
  yield* Effect.sleep("50 millis")
  yield* loop("b", b)
  yield* Effect.sleep("50 millis")
  for (let i = 0; i < trials; i++) {
    const count = samples.length
    const leader = (yield* a.status).leading ? "a" : "b"
    yield* Deferred.succeed(holds[leader]!, undefined)
    while (samples.length === count) yield* Effect.sleep("1 millis")
    yield* Effect.sleep("5 millis")
  }
})

await Effect.runPromise(
  Effect.scoped(program).pipe(Effect.provide(InMemoryCluster.layer), Logger.withMinimumLogLevel(LogLevel.None))
)
const s = stats(samples.slice(10))!
process.stdout.write(
  `in-process handover (release start -> next leader's work), ${s.n} trials: p50 ${s.p50.toFixed(2)} ms, p95 ${
    s.p95.toFixed(2)
  } ms, max ${s.max.toFixed(2)} ms\n`
)
const released = stats(releaseStarts.slice(10))!
process.stdout.write(
  `work end -> release write: p50 ${released.p50.toFixed(2)} ms, p95 ${released.p95.toFixed(2)} ms\n`
)
