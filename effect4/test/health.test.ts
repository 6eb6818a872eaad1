/**
 * The health check (client-go's HealthzAdaptor): `LeaderElection.status`, `LeaderElection.healthCheck` and the
 * `/healthz` route, on the in-memory cluster under the TestClock.
 */
import { describe, expect, it } from "@effect/vitest"
import { Clock, Context, Duration, Effect, Exit, Layer, Option, Result, Scope } from "effect"
import { HttpRouter, HttpServerRequest, HttpServerResponse } from "effect/http"
import { TestClock } from "effect/testing"
import type { ConfigMaps } from "../../src/effect4/ConfigMaps.js"
import { ContextInfo } from "../../src/effect4/ContextInfo.js"
import { LeaderUnhealthyError } from "../../src/effect4/errors.js"
import * as HealthCheck from "../../src/effect4/HealthCheck.js"
import { InMemoryCluster } from "../../src/effect4/InMemoryCluster.js"
import { K8sError } from "../../src/effect4/K8sError.js"
import { LeaderElection, type LeaderStatus } from "../../src/effect4/LeaderElection.js"
import type { Leases } from "../../src/effect4/Leases.js"
import { Pods } from "../../src/effect4/Pods.js"

const ns = "ops"
const lockName = "health-lock"
/** The defaults: 15 s / 10 s / 2 s. */
const leaseDurationMs = 15_000
const renewDeadlineMs = 10_000

const test = (
  name: string,
  body: () => Effect.Effect<void, unknown, InMemoryCluster | Pods | ConfigMaps | Leases | Scope.Scope>
) => it.effect(name, () => Effect.provide(body(), InMemoryCluster.layer), 30_000)

const settle = Effect.repeat(Effect.yieldNow, { times: 300 })
/** Moves the clock in 100 ms steps, letting the fibers react between steps. */
const advance = (millis: number) =>
  Effect.gen(function*() {
    for (let remaining = millis; remaining > 0; remaining -= 100) {
      yield* TestClock.adjust(Duration.millis(Math.min(100, remaining)))
      yield* Effect.repeat(Effect.yieldNow, { times: 20 })
    }
    yield* settle
  })

/** A Lease election for `identity`, built in the current scope over the shared in-memory cluster. */
const leaseElection = (identity: string) =>
  Layer.build(
    LeaderElection.leaseLock(lockName).pipe(Layer.provide(ContextInfo.test({ namespace: ns, podName: identity })))
  ).pipe(Effect.map(Context.get(LeaderElection)))

/** Answers one GET of `path` with the router built from `routes`, as the HTTP server would. */
const get = (routes: ReturnType<typeof HealthCheck.layer>, path = "/healthz") =>
  Effect.scoped(Effect.gen(function*() {
    const handle = yield* HttpRouter.toHttpEffect(routes)
    const response = yield* handle.pipe(
      Effect.provideService(
        HttpServerRequest.HttpServerRequest,
        HttpServerRequest.fromWeb(new Request(`http://localhost${path}`))
      )
    )
    return yield* Effect.promise(async () => {
      const web = HttpServerResponse.toWeb(response)
      return { status: web.status, body: await web.text() }
    })
  }))

const healthOf = (election: LeaderElection["Service"], timeout?: Duration.Input) =>
  LeaderElection.healthCheck(timeout).pipe(Effect.result, Effect.provideService(LeaderElection, election))

describe("health check", () => {
  test("Lease: healthy while renewing; status follows acquisition, renewals and release", () =>
    Effect.gen(function*() {
      const election = yield* leaseElection("a")
      const before = yield* election.status
      expect(before.leading).toBe(false)
      expect(Option.getOrUndefined(before.leaseDuration)).toEqual(Duration.millis(leaseDurationMs))

      const scope = yield* Scope.make()
      yield* Scope.provide(election.leadership, scope)
      const acquired = yield* election.status
      expect(acquired.leading).toBe(true)
      expect(acquired.leadingSince).toEqual(Option.some(0))
      expect(acquired.lastRenewAt).toEqual(Option.some(0))

      // 30 s of renewals: the last renew is never older than retryPeriod x 1.2, and the check passes even
      // with no timeout at all.
      for (let second = 0; second < 30; second++) {
        yield* advance(1000)
        const status = yield* election.status
        expect(status.leading).toBe(true)
        const now = yield* Clock.currentTimeMillis
        expect(now - Option.getOrThrow(status.lastRenewAt)).toBeLessThanOrEqual(2400)
        expect(Result.isSuccess(yield* healthOf(election, 0))).toBe(true)
      }
      const served = yield* get(HealthCheck.layer()).pipe(Effect.provideService(LeaderElection, election))
      expect(served).toEqual({ status: 200, body: "ok" })

      yield* Scope.close(scope, Exit.void)
      yield* settle
      const released = yield* election.status
      expect(released.leading).toBe(false)
      expect(released.lastRenewAt).toEqual(Option.none())
    }))

  test("Lease: when renewals fail, the leader itself stops at renewDeadline, before the check could fire", () =>
    Effect.gen(function*() {
      const cluster = yield* InMemoryCluster
      const election = yield* leaseElection("a")
      const leadership = yield* election.leadership
      yield* advance(5000)
      const lastGood = Option.getOrThrow((yield* election.status).lastRenewAt)
      // Every renew fails from now on (an API server that answers 500).
      yield* cluster.setInterceptor((request, proceed) =>
        request.verb === "update"
          ? Effect.fail(
            new K8sError({
              verb: request.verb,
              resource: request.resource,
              namespace: request.namespace,
              name: request.name,
              reason: "ServerError",
              status: 500,
              detail: "injected"
            })
          )
          : proceed
      )
      let stoppedAt: number | undefined
      for (let step = 0; step < 400 && stoppedAt === undefined; step++) {
        yield* advance(100)
        const status = yield* election.status
        // Even with a zero timeout the check passes: believing to lead ends at renewDeadline < leaseDuration.
        expect(Result.isSuccess(yield* healthOf(election, 0))).toBe(true)
        if (!status.leading) stoppedAt = yield* Clock.currentTimeMillis
      }
      expect(stoppedAt).toBeDefined()
      expect(stoppedAt! - lastGood).toBeGreaterThanOrEqual(renewDeadlineMs)
      expect(stoppedAt! - lastGood).toBeLessThan(leaseDurationMs)
      yield* leadership.lost // completed: the protected work was told to stop
    }))

  test("a replica that believes it leads but has not renewed for leaseDuration + timeout is unhealthy", () =>
    Effect.gen(function*() {
      // What the check is for: a leader that does not notice its loss (a stuck event loop, a starved or dead
      // election fiber). The Lease election cannot be brought into that state from outside, so the status is
      // given: leading, last renewed at 0, leaseDuration 15 s.
      const stuck: LeaderStatus = {
        leading: true,
        leadingSince: Option.some(0),
        lastRenewAt: Option.some(0),
        leaseDuration: Option.some(Duration.millis(leaseDurationMs))
      }
      const real = yield* leaseElection("a")
      const election: LeaderElection["Service"] = { ...real, status: Effect.succeed(stuck) }
      const routes = HealthCheck.layer({ timeout: "5 seconds" })

      yield* TestClock.setTime(leaseDurationMs + 5000)
      expect(Result.isSuccess(yield* healthOf(election, "5 seconds"))).toBe(true)
      expect(yield* get(routes).pipe(Effect.provideService(LeaderElection, election))).toEqual({
        status: 200,
        body: "ok"
      })

      yield* TestClock.setTime(leaseDurationMs + 5001)
      const failed = yield* healthOf(election, "5 seconds")
      expect(Result.isFailure(failed)).toBe(true)
      const error = Result.getFailure(failed).pipe(Option.getOrThrow)
      expect(error).toBeInstanceOf(LeaderUnhealthyError)
      expect(error.sinceRenewMillis).toBe(20_001)
      const served = yield* get(routes).pipe(Effect.provideService(LeaderElection, election))
      expect(served.status).toBe(500)
      expect(served.body).toMatch(/^unhealthy: failed election to renew leadership/)
      expect(served.body).toContain("leaseDuration 15s + timeout 5s")

      // The default timeout is 20 s; not leading is always healthy.
      expect(Result.isSuccess(yield* healthOf(election))).toBe(true)
      yield* TestClock.setTime(leaseDurationMs + 20_001)
      expect(Result.isFailure(yield* healthOf(election))).toBe(true)
      const follower: LeaderElection["Service"] = { ...real, status: Effect.succeed({ ...stuck, leading: false }) }
      expect(Result.isSuccess(yield* healthOf(follower, 0))).toBe(true)
    }))

  test("leader for life: leading needs no renew, so it stays healthy for as long as it leads", () =>
    Effect.gen(function*() {
      const pods = yield* Pods
      yield* pods.create({
        metadata: { name: "pod-a", namespace: ns },
        spec: { containers: [{ name: "main", image: "registry.k8s.io/pause:3.10" }] }
      })
      const election = yield* Layer.build(
        LeaderElection.configMapLock("lfl-lock").pipe(
          Layer.provide(ContextInfo.test({ namespace: ns, podName: "pod-a" }))
        )
      ).pipe(Effect.map(Context.get(LeaderElection)))
      const scope = yield* Scope.make()
      yield* Scope.provide(election.leadership, scope)
      const status = yield* election.status
      expect(status).toEqual({
        leading: true,
        leadingSince: Option.some(0),
        lastRenewAt: Option.none(),
        leaseDuration: Option.none()
      })
      yield* TestClock.adjust("24 hours")
      expect(Result.isSuccess(yield* healthOf(election, 0))).toBe(true)
      expect(yield* get(HealthCheck.layer()).pipe(Effect.provideService(LeaderElection, election))).toEqual({
        status: 200,
        body: "ok"
      })
      yield* Scope.close(scope, Exit.void)
      expect((yield* election.status).leading).toBe(false)
    }))

  test("the route answers only its path", () =>
    Effect.gen(function*() {
      const election = yield* leaseElection("a")
      // The layer, and the route value added with HttpRouter.addAll.
      for (
        const routes of [
          HealthCheck.layer({ path: "/live" }),
          HttpRouter.addAll([HealthCheck.route({ path: "/live" })])
        ]
      ) {
        expect(yield* get(routes, "/live").pipe(Effect.provideService(LeaderElection, election))).toEqual({
          status: 200,
          body: "ok"
        })
        const other = yield* get(routes, "/healthz").pipe(
          Effect.provideService(LeaderElection, election),
          Effect.result
        )
        expect(Result.isFailure(other)).toBe(true)
      }
    }))
})
