/**
 * One run of the leader-for-life model (docs/safety.md): 2 to 4 candidates, each with its Pod, on the ConfigMap lock
 * of one in-memory API server; their Pods are deleted (the garbage collector then deletes the lock they own) and
 * their lock requests fail at random. Driven on the simulator's reference clock.
 */
import { Context, Effect, Fiber, Layer, Logger, LogLevel, Option, Random, Runtime } from "effect"
import { ConfigMaps } from "../../src/ConfigMaps.js"
import { ContextInfo } from "../../src/ContextInfo.js"
import { InMemoryCluster } from "../../src/InMemoryCluster.js"
import { K8sError, type K8sVerb } from "../../src/K8sError.js"
import { LeaderElection } from "../../src/LeaderElection.js"
import { Pods } from "../../src/Pods.js"
import type { ConfigMap, Pod, ResourceService } from "../../src/resources.js"
import { activePieces, type Interval, overlaps, recovery } from "./intervals.js"
import { prng, runFork, runNow, SimClock, SimScheduler } from "./sim.js"

export type LflAction =
  | { readonly kind: "start"; readonly at: number; readonly slot: number }
  /** Deletes a Pod (slot 4: the leader's): its process ends (crash: without releasing), then the Pod object goes. */
  | { readonly kind: "deletePod"; readonly at: number; readonly slot: number; readonly crash: boolean }
  | {
    readonly kind: "errors"
    readonly at: number
    readonly slot: number
    readonly duration: number
    readonly percent: number
  }

export interface LflScenario {
  readonly seed: number
  readonly slots: number
  readonly actions: ReadonlyArray<LflAction>
}

export interface LflOutcome {
  readonly violations: ReadonlyArray<string>
  readonly intervals: ReadonlyArray<Interval>
  /** Deletions of the leader's Pod after which a standby had to take over at once. */
  readonly instantTakeovers: number
}

const namespace = "ops"
const lockName = "safety-lock"
export const lflLeaderSlot = 4
/** After an injected error, the retry schedule may be sleeping up to 30 s x 1.2 before its next attempt. */
const backoffCap = 36_000

interface Incarnation {
  readonly id: number
  readonly slot: number
  readonly pod: string
  crashed: boolean
  readonly random: () => number
  fiber: Fiber.RuntimeFiber<unknown, unknown> | undefined
}

export const simulateLeaderForLife = (scenario: LflScenario): LflOutcome => {
  const clock = new SimClock()
  const scheduler = new SimScheduler()
  const runtime = runNow(
    Runtime.defaultRuntime,
    scheduler,
    Effect.runtime<InMemoryCluster | Pods | ConfigMaps>().pipe(
      Effect.provide(InMemoryCluster.layer),
      Effect.withClock(clock),
      Effect.withRandom(Random.make(scenario.seed)),
      Logger.withMinimumLogLevel(LogLevel.None),
      Effect.withScheduler(scheduler)
    )
  )
  const pods = Context.get(runtime.context, Pods)
  const configMaps = Context.get(runtime.context, ConfigMaps)

  const quietFrom = Math.max(0, ...scenario.actions.map((a) => a.at + ("duration" in a ? a.duration : 0)))
  const endOfRun = quietFrom + backoffCap + 5_000
  const violations: Array<string> = []
  const intervals: Array<Interval> = []
  const incarnations: Array<Incarnation> = []
  const running: Array<Incarnation | undefined> = Array.from({ length: scenario.slots }, () => undefined)
  const errorWindows: Array<Array<{ from: number; to: number; percent: number }>> = Array.from(
    { length: scenario.slots },
    () => []
  )
  let lastInjectedAt = Number.NEGATIVE_INFINITY
  let seq = 0
  let instantTakeovers = 0
  const takeoversDue: Array<number> = []

  /** The candidate's own ConfigMaps: lock requests fail inside its error windows; a crashed process sends nothing. */
  const configMapsOf = (inc: Incarnation): ResourceService<ConfigMap> => {
    const through = <A>(verb: K8sVerb, proceed: Effect.Effect<A, K8sError>) =>
      Effect.suspend(() => {
        if (inc.crashed) return Effect.never
        const window = errorWindows[inc.slot]!.find((w) => w.from <= clock.now && clock.now < w.to)
        if (window !== undefined && inc.random() * 100 < window.percent) {
          lastInjectedAt = clock.now
          return Effect.fail(
            new K8sError({
              verb,
              resource: "configmaps",
              namespace,
              name: lockName,
              reason: "ServerError",
              status: 500,
              detail: "injected"
            })
          )
        }
        return proceed
      })
    return {
      get: (name, ns) => through("get", configMaps.get(name, ns)),
      create: (object) => through("create", configMaps.create(object)),
      replace: (object) => through("update", configMaps.replace(object)),
      delete: (name, ns, options) => through("delete", configMaps.delete(name, ns, options)),
      watch: (name, ns, options) => configMaps.watch(name, ns, options)
    }
  }
  const podsOf = (inc: Incarnation): ResourceService<Pod> => ({
    ...pods,
    get: (name, ns) => Effect.suspend(() => inc.crashed ? Effect.never : pods.get(name, ns))
  })

  const start = (slot: number) => {
    if (running[slot] !== undefined) return
    const id = incarnations.length
    const inc: Incarnation = {
      id,
      slot,
      pod: `p${slot}-${id}`,
      crashed: false,
      random: prng((scenario.seed ^ Math.imul(id + 1, 0x9e3779b1)) >>> 0),
      fiber: undefined
    }
    incarnations.push(inc)
    running[slot] = inc
    runNow(runtime, scheduler, pods.create({ metadata: { name: inc.pod, namespace } }))
    const leader = Effect.suspend(() => {
      const interval: Interval = {
        slot,
        incarnation: id,
        lane: 0,
        identity: inc.pod,
        term: undefined,
        start: { t: clock.now, seq: seq++ },
        end: undefined
      }
      intervals.push(interval)
      return Effect.never.pipe(Effect.onExit(() =>
        Effect.sync(() => {
          interval.end = { t: clock.now, seq: seq++ }
        })
      ))
    })
    inc.fiber = runFork(
      runtime,
      scheduler,
      Effect.gen(function*() {
        const election = yield* Effect.provide(
          LeaderElection,
          LeaderElection.configMapLock(lockName).pipe(
            Layer.provide(Layer.succeed(ConfigMaps, configMapsOf(inc))),
            Layer.provide(Layer.succeed(Pods, podsOf(inc))),
            Layer.provide(ContextInfo.test({ namespace, podName: inc.pod }))
          )
        )
        yield* election.runAsLeader(leader).pipe(Effect.repeat({ while: Option.isNone }))
      }).pipe(
        Effect.catchAllCause((cause) =>
          Effect.sync(() => {
            if (!inc.crashed) violations.push(`${inc.pod} failed: ${String(cause)}`)
          })
        )
      )
    )
  }

  const deletePod = (slot: number, crash: boolean) => {
    const inc = running[slot]
    if (inc === undefined) return
    running[slot] = undefined
    const wasLeading = intervals.some((interval) => interval.incarnation === inc.id && interval.end === undefined)
    if (crash) inc.crashed = true
    runFork(runtime, scheduler, Fiber.interrupt(inc.fiber!))
    scheduler.flush()
    runFork(runtime, scheduler, Effect.ignore(pods.delete(inc.pod, namespace)))
    // A standby that has waited without errors for longer than the longest backoff takes over on the watch event.
    const standby = running.some((other) => other !== undefined)
    const quiet = lastInjectedAt < clock.now - backoffCap &&
      errorWindows.every((windows) => windows.every((w) => w.to <= clock.now - backoffCap || w.from > clock.now))
    if (wasLeading && standby && quiet) takeoversDue.push(clock.now)
  }

  const timeline: Array<LflAction> = [
    { kind: "start" as const, at: 0, slot: 0 },
    ...scenario.actions
  ].sort((a, b) => a.at - b.at)

  let next = 0
  scheduler.flush()
  while (true) {
    const action = timeline[next]
    const timer = clock.next()
    if (action !== undefined && action.at <= timer) {
      clock.now = Math.max(clock.now, action.at)
      next++
      const slot = action.slot === lflLeaderSlot
        ? (intervals.find((interval) => interval.end === undefined)?.slot ?? 0)
        : action.slot % scenario.slots
      if (action.kind === "start") start(slot)
      else if (action.kind === "deletePod") deletePod(slot, action.crash)
      else errorWindows[slot]!.push({ from: action.at, to: action.at + action.duration, percent: action.percent })
    } else if (timer <= endOfRun) {
      clock.wakeNext()
    } else {
      break
    }
    scheduler.flush()
  }
  clock.now = endOfRun

  const pieces = intervals.flatMap((interval) => activePieces(interval, endOfRun, []))
  violations.push(...overlaps(pieces))
  for (const at of takeoversDue) {
    instantTakeovers++
    if (!intervals.some((interval) => interval.start.t === at)) {
      violations.push(`the leader's Pod was deleted at ${at}ms and no standby led at that instant`)
    }
  }
  if (running.some((inc) => inc !== undefined) && recovery(pieces, quietFrom, endOfRun) === undefined) {
    violations.push(`nobody leads at the end of the run (${endOfRun}ms) though a candidate runs`)
  }
  return { violations, intervals, instantTakeovers }
}
