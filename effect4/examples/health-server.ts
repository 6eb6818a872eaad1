/**
 * A leader-elected process that serves `/healthz` for a Kubernetes livenessProbe (client-go's HealthzAdaptor): 200
 * `ok`, or 500 when this replica believes it leads a Lease it has not renewed for `leaseDuration + timeout`. A
 * follower is healthy: only a leader that fails to notice its loss should be restarted. The Effect 4 edition of
 * examples/health-server.ts.
 *
 *   npm run example:health:effect4   # in memory, on a free port: leads, probes its own /healthz a few times, exits
 *   npm run example:health:effect4 -- --kubeconfig FILE --identity replica-1 --port 8080   # a real cluster
 *   KUBECONFIG=FILE POD_NAME=replica-1 npm run example:health:effect4   # as in deploy/example/deployment.yaml
 *     [--name health-server] [--timeout 20s] [--duration 10s]
 *
 * RBAC: deploy/rbac/lease-lock.yaml.
 */
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { Effect, Fiber, Layer, Option, References, Schedule } from "effect"
import { HttpRouter, HttpServer, HttpServerResponse } from "effect/http"
import { createServer } from "node:http"
import { parseArgs } from "node:util"
import { HealthCheck, LeaderElection } from "../../src/effect4/index.js"
import { clusterOptions, duration, target } from "./cluster.js"

const { values: flags } = parseArgs({
  options: {
    ...clusterOptions,
    name: { type: "string", default: "health-server" },
    port: { type: "string" },
    timeout: { type: "string", default: "20s" },
    duration: { type: "string" }
  }
})
const cluster = target(flags)
// In memory a free port, so that CI can run it anywhere; 8080 otherwise, as the Deployment's probe expects.
const port = Number(flags.port ?? (cluster.inMemory ? 0 : 8080))

/** The routes: `/healthz` from the library beside the operator's own. */
const routes = Layer.mergeAll(
  HealthCheck.layer({ timeout: duration(flags.timeout) }),
  HttpRouter.add("GET", "/", HttpServerResponse.text("a leader-elected operator; see /healthz\n"))
)

/**
 * Serves the routes on the `HttpServer` of the context, for as long as the scope it is built in; logs the address it
 * listens on. No request log, as with Effect 3's `HttpServer.serve()`.
 */
const ServeLive = HttpRouter.serve(routes, { disableLogger: true })

/** The operator's work, only while leading; re-enters the election after a loss. */
const operator = LeaderElection.runAsLeader(
  Effect.logInfo("leading: reconciling").pipe(
    Effect.repeat(Schedule.spaced("5 seconds")),
    Effect.andThen(Effect.never)
  )
).pipe(Effect.repeat({ while: Option.isNone }))

/** What a kubelet does: GET /healthz; prints the answer. */
const probe = (url: string) =>
  Effect.promise(async () => {
    const response = await fetch(url)
    return `${response.status} ${await response.text()}`
  }).pipe(Effect.flatMap((answer) => Effect.sync(() => console.log(`GET ${url} -> ${answer}`))))

const program = Effect.gen(function*() {
  yield* Layer.build(ServeLive)
  const { address } = yield* HttpServer.HttpServer
  const url = `http://127.0.0.1:${address._tag === "UnixPathAddress" ? port : address.port}/healthz`
  yield* Effect.logInfo(`lease ${flags.name} on ${cluster.describe}`)
  const work = yield* Effect.forkScoped(operator)
  const stopAfter = flags.duration ?? (cluster.inMemory ? "3s" : undefined)
  if (stopAfter === undefined) return yield* Fiber.await(work)
  // The demonstration: probe as a kubelet would, before and while leading, then stop.
  yield* probe(url)
  yield* LeaderElection.status.pipe(
    Effect.repeat({ until: (status) => status.leading, schedule: Schedule.spaced("50 millis") })
  )
  yield* probe(url).pipe(Effect.repeat(Schedule.spaced("1 second")), Effect.timeoutOption(duration(stopAfter)))
  yield* Effect.logInfo(`stopping after --duration ${stopAfter}`)
}).pipe(Effect.scoped)

NodeRuntime.runMain(program.pipe(
  Effect.provide(NodeHttpServer.layer(createServer, { port })),
  Effect.provide(LeaderElection.leaseLock(flags.name)),
  Effect.provide(cluster.context("replica-1")),
  Effect.provide(cluster.resources),
  Effect.provideService(References.MinimumLogLevel, flags.verbose ? "Debug" : "Info")
))
