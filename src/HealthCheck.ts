/**
 * A health check for leader election, client-go's `HealthzAdaptor`: unhealthy when this replica believes it leads
 * a Lease but has not renewed it within `leaseDuration + timeout`, and a ready-made `/healthz` route for an
 * `@effect/platform` HTTP server, for a Kubernetes `livenessProbe`.
 *
 * ```ts
 * const HealthServer = HttpRouter.empty.pipe(
 *   HealthCheck.route(),
 *   HttpServer.serve(),
 *   HttpServer.withLogAddress,
 *   Layer.provide(NodeHttpServer.layer(createServer, { port: 8080 }))
 * )
 * ```
 *
 * @since 0.1.0
 */
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { type Duration, Effect } from "effect"
import type { LeaderUnhealthyError } from "./errors.js"
import { LeaderElection } from "./LeaderElection.js"

export {
  /** @since 0.1.0 */
  defaultHealthTimeout
} from "./internal/health.js"

/**
 * @since 0.1.0
 */
export interface HealthCheckOptions {
  /**
   * How long past `leaseDuration` a leader may go without a successful renew before it is unhealthy. Default 20 s
   * (what kube-controller-manager and kube-scheduler give client-go's HealthzAdaptor).
   */
  readonly timeout?: Duration.DurationInput | undefined
  /** The route's path. Default `/healthz`. */
  readonly path?: HttpRouter.PathInput | undefined
}

/**
 * Succeeds while healthy, fails with `LeaderUnhealthyError` otherwise: the same as `LeaderElection.healthCheck`.
 *
 * @since 0.1.0
 */
export const check = (options: HealthCheckOptions = {}): Effect.Effect<void, LeaderUnhealthyError, LeaderElection> =>
  LeaderElection.healthCheck(options.timeout)

/**
 * The HTTP answer to a health probe: 200 `ok`, or 500 with the reason (which is also logged as a warning).
 *
 * @since 0.1.0
 */
export const handler = (
  options: HealthCheckOptions = {}
): Effect.Effect<HttpServerResponse.HttpServerResponse, never, LeaderElection> =>
  check(options).pipe(
    Effect.as(HttpServerResponse.text("ok")),
    Effect.catchTag("LeaderUnhealthyError", (error) =>
      Effect.as(
        Effect.logWarning(`health check failed: ${error.message}`),
        HttpServerResponse.text(`unhealthy: ${error.message}`, { status: 500 })
      ))
  )

/**
 * Adds `GET /healthz` (or `options.path`) answered by {@link handler} to a router.
 *
 * @since 0.1.0
 */
export const route =
  (options: HealthCheckOptions = {}) =>
  <E, R>(router: HttpRouter.HttpRouter<E, R>): HttpRouter.HttpRouter<E, R | LeaderElection> =>
    HttpRouter.get(router, options.path ?? "/healthz", handler(options))

/**
 * A router with only the health route: `HealthCheck.router().pipe(HttpServer.serve(), ...)`, or mount it beside
 * your own routes with `HttpRouter.concat`.
 *
 * @since 0.1.0
 */
export const router = (options: HealthCheckOptions = {}): HttpRouter.HttpRouter<never, LeaderElection> =>
  HttpRouter.empty.pipe(route(options))
