/**
 * A health check for leader election, client-go's `HealthzAdaptor`: unhealthy when this replica believes it leads
 * a Lease but has not renewed it within `leaseDuration + timeout`, and a ready-made `/healthz` route for an
 * `effect/http` server, for a Kubernetes `livenessProbe`.
 *
 * ```ts
 * const HealthServer = HttpRouter.serve(HealthCheck.layer()).pipe(
 *   Layer.provide(NodeHttpServer.layer(createServer, { port: 8080 }))
 * )
 * ```
 *
 * @since 0.1.0
 */
import { type Duration, Effect, type Layer } from "effect"
import { HttpRouter, HttpServerResponse } from "effect/http"
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
  readonly timeout?: Duration.Input | undefined
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
 * `GET /healthz` (or `options.path`) answered by {@link handler}, as a route value: add it beside your own routes
 * with `HttpRouter.addAll([HealthCheck.route(), ...])`.
 *
 * @since 0.1.0
 */
export const route = (options: HealthCheckOptions = {}): HttpRouter.Route<never, LeaderElection> =>
  HttpRouter.route("GET", options.path ?? "/healthz", handler(options))

/**
 * A layer that adds `GET /healthz` (or `options.path`) answered by {@link handler} to the `HttpRouter`: serve it
 * with `HttpRouter.serve(HealthCheck.layer())`, or beside your own routes with
 * `HttpRouter.serve(Layer.mergeAll(HealthCheck.layer(), MyRoutes))`. The server then needs `LeaderElection`.
 *
 * @since 0.1.0
 */
export const layer = (
  options: HealthCheckOptions = {}
): Layer.Layer<never, never, HttpRouter.HttpRouter | HttpRouter.Request<"Requires", LeaderElection>> =>
  HttpRouter.add("GET", options.path ?? "/healthz", handler(options))
