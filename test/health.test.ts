/**
 * The health check (client-go's HealthzAdaptor): `LeaderElection.status`, `LeaderElection.healthCheck` and the
 * `/healthz` route, on the in-memory cluster under the TestClock.
 */
import { HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { describe, expect, it } from "@effect/vitest"
import { Context, Duration, Effect, Either, Exit, Layer, Option, Scope, TestClock } from "effect"
import {
  ConfigMaps,
  ContextInfo,
  HealthCheck,
  InMemoryCluster,
  K8sError,
  LeaderElection,
  type LeaderStatus,
  LeaderUnhealthyError,
  Leases,
  Pods
} from "../src/index.js"

const ns = "ops"
const lockName = "health-lock"
/** The defaults: 15 s / 10 s / 2 s. */
const leaseDurationMs = 15_000
const renewDeadlineMs = 10_000

const test = (
  name: string,
  body: () => Effect.Effect<void, unknown, InMemoryCluster | Pods | ConfigMaps | Leases | Scope.Scope>
) => it.scoped(name, () => Effect.provide(body(), InMemoryCluster.layer), 30_000)

const settle = Effect.repeatN(Effect.yieldNow(), 300)
/** Moves the clock in 100 ms steps, letting the fibers react between steps. */
const advance = (millis: number) =>
  Effect.gen(function*() {
    for (let remaining = millis; remaining > 0; remaining -= 100) {
      yield* TestClock.adjust(Duration.millis(Math.min(100, remaining)))
      yield* Effect.repeatN(Effect.yieldNow(), 20)
    }
    yield* settle
  })

/** A Lease election for `identity`, built in the current scope over the shared in-memory cluster. */
const leaseElection = (identity: string) =>
  Layer.build(
    LeaderElection.leaseLock(lockName).pipe(Layer.provide(ContextInfo.test({ namespace: ns, podName: identity })))
  ).pipe(Effect.map(Context.get(LeaderElection)))

/** Answers one GET of `path` with `router`, as the HTTP server would. */
const get = (router: ReturnType<typeof HealthCheck.router>, path = "/healthz") =>
  router.pipe(
    Effect.provideService(
      HttpServerRequest.HttpServerRequest,
      HttpServerRequest.fromWeb(new Request(`http://localhost${path}`))
    ),
    Effect.flatMap((response) =>
      Effect.promise(async () => {
        const web = HttpServerResponse.toWeb(response)
        return { status: web.status, body: await web.text() }
      })
    )
  )

const healthOf = (election: LeaderElection["Type"], timeout?: Duration.DurationInput) =>
  LeaderElection.healthCheck(timeout).pipe(Effect.either, Effect.provideService(LeaderElection, election))

describe("health check", () => {
  test("Lease: healthy while renewing; status follows acquisition, renewals and release", () =>
    Effect.gen(function*() {
      const election = yield* leaseElection("a")
      const before = yield* election.status
      expect(before.leading).toBe(false)
      expect(Option.getOrUndefined(before.leaseDuration)).toEqual(Duration.millis(leaseDurationMs))

      const scope = yield* Scope.make()
      yield* Scope.extend(election.leadership, scope)
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
        const now = yield* TestClock.currentTimeMillis
        expect(now - Option.getOrThrow(status.lastRenewAt)).toBeLessThanOrEqual(2400)
        expect(Either.isRight(yield* healthOf(election, 0))).toBe(true)
      }
      const served = yield* get(HealthCheck.router()).pipe(Effect.provideService(LeaderElection, election))
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
        expect(Either.isRight(yield* healthOf(election, 0))).toBe(true)
        if (!status.leading) stoppedAt = yield* TestClock.currentTimeMillis
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
      const election: LeaderElection["Type"] = { ...real, status: Effect.succeed(stuck) }
      const router = HealthCheck.router({ timeout: "5 seconds" })

      yield* TestClock.setTime(leaseDurationMs + 5000)
      expect(Either.isRight(yield* healthOf(election, "5 seconds"))).toBe(true)
      expect(yield* get(router).pipe(Effect.provideService(LeaderElection, election))).toEqual({
        status: 200,
        body: "ok"
      })

      yield* TestClock.setTime(leaseDurationMs + 5001)
      const failed = yield* healthOf(election, "5 seconds")
      expect(Either.isLeft(failed)).toBe(true)
      const error = Either.getLeft(failed).pipe(Option.getOrThrow)
      expect(error).toBeInstanceOf(LeaderUnhealthyError)
      expect(error.sinceRenewMillis).toBe(20_001)
      const served = yield* get(router).pipe(Effect.provideService(LeaderElection, election))
      expect(served.status).toBe(500)
      expect(served.body).toMatch(/^unhealthy: failed election to renew leadership/)
      expect(served.body).toContain("leaseDuration 15s + timeout 5s")

      // The default timeout is 20 s; not leading is always healthy.
      expect(Either.isRight(yield* healthOf(election))).toBe(true)
      yield* TestClock.setTime(leaseDurationMs + 20_001)
      expect(Either.isLeft(yield* healthOf(election))).toBe(true)
      const follower: LeaderElection["Type"] = { ...real, status: Effect.succeed({ ...stuck, leading: false }) }
      expect(Either.isRight(yield* healthOf(follower, 0))).toBe(true)
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
      yield* Scope.extend(election.leadership, scope)
      const status = yield* election.status
      expect(status).toEqual({
        leading: true,
        leadingSince: Option.some(0),
        lastRenewAt: Option.none(),
        leaseDuration: Option.none()
      })
      yield* TestClock.adjust("24 hours")
      expect(Either.isRight(yield* healthOf(election, 0))).toBe(true)
      expect(yield* get(HealthCheck.router()).pipe(Effect.provideService(LeaderElection, election))).toEqual({
        status: 200,
        body: "ok"
      })
      yield* Scope.close(scope, Exit.void)
      expect((yield* election.status).leading).toBe(false)
    }))

  test("the route answers only its path", () =>
    Effect.gen(function*() {
      const election = yield* leaseElection("a")
      const router = HealthCheck.router({ path: "/live" })
      expect(yield* get(router, "/live").pipe(Effect.provideService(LeaderElection, election))).toEqual({
        status: 200,
        body: "ok"
      })
      const other = yield* get(router, "/healthz").pipe(Effect.provideService(LeaderElection, election), Effect.either)
      expect(Either.isLeft(other)).toBe(true)
    }))
})
