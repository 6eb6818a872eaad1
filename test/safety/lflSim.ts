/**
 * One run of the leader-for-life model (docs/safety.md): 2 to 4 candidates, each with its Pod, on the ConfigMap lock
 * of one in-memory API server; their Pods are deleted (the garbage collector then deletes the lock they own) and
 * their lock requests fail at random. Driven on the simulator's reference clock.
 */
import { Context, Effect, Fiber, Layer, Logger, LogLevel, Option, Random, Runtime, Stream } from "effect"
import { ConfigMaps } from "../../src/ConfigMaps.js"
import { ContextInfo } from "../../src/ContextInfo.js"
import type { LeaderElectionError } from "../../src/errors.js"
import { InMemoryCluster } from "../../src/InMemoryCluster.js"
import { K8sError, type K8sVerb } from "../../src/K8sError.js"
import { LeaderElection } from "../../src/LeaderElection.js"
import { Pods } from "../../src/Pods.js"
import type { ConfigMap, Pod, ResourceService } from "../../src/resources.js"
import {
  activePieces,
  checkRates,
  type Interval,
  overlaps,
  type RateLimits,
  recovery,
  termViolations
} from "./intervals.js"
import {
  endedOnInjected,
  InjectedDefect,
  prng,
  type ProcessFault,
  runFork,
  runNow,
  SimClock,
  SimScheduler,
  stopGracefully
} from "./sim.js"

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
  /**
   * The slot's Pod is evicted: its process dies, its Pod object stays (phase Failed), so the garbage collector keeps
   * the lock; with `finalizerFor` > 0 a finalizer on the lock keeps it that long after a standby deletes it.
   */
  | { readonly kind: "evict"; readonly at: number; readonly slot: number; readonly finalizerFor: number }
  /** Someone edits the lock's owner reference to a bystander Pod (no candidate), which goes `duration` later. */
  | { readonly kind: "editOwner"; readonly at: number; readonly duration: number }
  /** Someone deletes the lock; with `recreate`, a new one owned by a bystander Pod that goes 2 s later. */
  | { readonly kind: "deleteLock"; readonly at: number; readonly recreate: boolean }
  | ProcessFault

export interface LflScenario {
  readonly seed: number
  readonly slots: number
  readonly actions: ReadonlyArray<LflAction>
  /** Election loops per process on its one LeaderElection service. */
  readonly lanes: number
}

export interface LflOutcome {
  readonly violations: ReadonlyArray<string>
  readonly intervals: ReadonlyArray<Interval>
  /** Deletions of the leader's Pod after which a standby had to take over at once. */
  readonly instantTakeovers: number
  readonly faultsByClass: Readonly<Record<string, number>>
  readonly peakRequests: ReadonlyArray<number>
  readonly exits: number
}

/** The rate bounds of this model (docs/safety.md derives them). */
export const lflRateLimits: RateLimits = [
  { window: 5_000, bound: 60 },
  { window: 30_000, bound: 240 }
]

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
  unauthorized: boolean
  injectedInterrupts: number
  readonly requests: Array<number>
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

  /** When an action's effects are over: its window, a finalizer's hold, a re-created lock's bystander. */
  const endOf = (a: LflAction) =>
    a.at + ("duration" in a ? a.duration : 0) + (a.kind === "evict" ? a.finalizerFor : 0) +
    (a.kind === "deleteLock" && a.recreate ? 2_000 : 0)
  const quietFrom = Math.max(0, ...scenario.actions.map(endOf))
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
  let exits = 0
  let bystanders = 0
  const faultsByClass: Record<string, number> = {}
  const count = (kind: string) => {
    lastInjectedAt = clock.now
    faultsByClass[kind] = (faultsByClass[kind] ?? 0) + 1
  }
  const windowsOf = <K extends LflAction["kind"]>(kind: K, slot: number) =>
    scenario.actions.filter((a): a is Extract<LflAction, { kind: K }> =>
      a.kind === kind && "slot" in a && resolved.get(a) === slot && "duration" in a && a.at <= clock.now &&
      clock.now < a.at + a.duration
    )
  /** The slot each action was resolved to when it happened. */
  const resolved = new Map<LflAction, number>()
  const foreignAt: Array<number> = []
  let seq = 0
  let instantTakeovers = 0
  const takeoversDue: Array<number> = []

  /** The candidate's own ConfigMaps: lock requests fail inside its error windows; a crashed process sends nothing. */
  const configMapsOf = (inc: Incarnation): ResourceService<ConfigMap> => {
    const through = <A>(verb: K8sVerb, proceed: Effect.Effect<A, K8sError>) =>
      Effect.suspend(() => {
        if (inc.crashed) return Effect.never
        const injected = inject(inc, verb, "configmaps", proceed)
        if (injected !== undefined) return injected
        const window = errorWindows[inc.slot]!.find((w) => w.from <= clock.now && clock.now < w.to)
        if (window !== undefined && inc.random() * 100 < window.percent) {
          count("errors")
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
      watch: (name, ns, options) => watchThrough(inc, "configmaps", configMaps.watch(name, ns, options))
    }
  }
  const podsOf = (inc: Incarnation): ResourceService<Pod> => ({
    ...pods,
    get: (name, ns) =>
      Effect.suspend(() =>
        inc.crashed ? Effect.never : inject(inc, "get", "pods", pods.get(name, ns)) ?? pods.get(name, ns)
      ),
    watch: (name, ns, options) => watchThrough(inc, "pods", pods.watch(name, ns, options))
  })

  const injectedError = (verb: K8sVerb, resource: string, reason: K8sError["reason"], status: number | undefined) =>
    new K8sError({ verb, resource, namespace, name: lockName, reason, status, detail: "injected" })

  /** The faults every request of `inc` may meet; undefined: none, go on. */
  const inject = <A>(
    inc: Incarnation,
    verb: K8sVerb,
    resource: string,
    proceed: Effect.Effect<A, K8sError>
  ): Effect.Effect<A, K8sError> | undefined => {
    inc.requests.push(clock.now)
    if (inc.unauthorized) return Effect.fail(injectedError(verb, resource, "Unauthorized", 401))
    const defect = windowsOf("defects", inc.slot)[0]
    if (defect !== undefined && inc.random() * 100 < defect.percent) {
      count("defects")
      if (!defect.interrupt) return Effect.die(new InjectedDefect())
      inc.injectedInterrupts++
      return Effect.interrupt
    }
    const late = windowsOf("lateCommit", inc.slot)[0]
    if (verb === "create" && resource === "configmaps" && late !== undefined && inc.random() * 100 < late.percent) {
      count("lateCommit")
      return Effect.zipRight(
        Effect.forkDaemon(Effect.zipRight(clock.sleepMillis(late.delay), Effect.either(proceed))),
        Effect.fail(injectedError(verb, resource, "Timeout", undefined))
      )
    }
    return undefined
  }

  const watchThrough = <A>(inc: Incarnation, resource: string, watch: Stream.Stream<A, K8sError>) =>
    Stream.suspend(() => {
      if (inc.crashed) return Stream.never
      inc.requests.push(clock.now)
      if (inc.unauthorized) return Stream.fail(injectedError("watch", resource, "Unauthorized", 401))
      if (windowsOf("watchFlap", inc.slot).length > 0) {
        count("watchFlap")
        return Stream.fail(injectedError("watch", resource, "ServerError", 429))
      }
      return watch
    })

  /** Starts a process for `slot`: in a new Pod, or in `pod` (its container restarted). */
  const start = (slot: number, pod?: string) => {
    if (running[slot] !== undefined) return
    const id = incarnations.length
    const inc: Incarnation = {
      id,
      slot,
      pod: pod ?? `p${slot}-${id}`,
      crashed: false,
      unauthorized: false,
      injectedInterrupts: 0,
      requests: [],
      random: prng((scenario.seed ^ Math.imul(id + 1, 0x9e3779b1)) >>> 0),
      fiber: undefined
    }
    incarnations.push(inc)
    running[slot] = inc
    if (pod === undefined) runNow(runtime, scheduler, pods.create({ metadata: { name: inc.pod, namespace } }))
    const leader = (lane: number, term: number | undefined) =>
      Effect.suspend(() => {
        const interval: Interval = {
          slot,
          incarnation: id,
          lane,
          identity: inc.pod,
          term,
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
        // Built in the process's scope, as a program's layers are (the late-create watch lives there).
        const election = yield* Layer.build(
          LeaderElection.configMapLock(lockName).pipe(
            Layer.provide(Layer.succeed(ConfigMaps, configMapsOf(inc))),
            Layer.provide(Layer.succeed(Pods, podsOf(inc))),
            Layer.provide(ContextInfo.test({ namespace, podName: inc.pod }))
          )
        ).pipe(Effect.map(Context.get(LeaderElection)))
        yield* Effect.forkScoped(Effect.ignore(Stream.runDrain(election.leaderChanges)))
        const once = (lane: number): Effect.Effect<Option.Option<never>, LeaderElectionError> =>
          lane === 0 && scenario.seed % 2 === 0
            ? election.runAsLeader(leader(lane, undefined))
            : Effect.scoped(
              Effect.flatMap(election.leadership, (leadership) =>
                Effect.raceFirst(
                  Effect.asSome(leader(lane, leadership.term)),
                  Effect.as(leadership.lost, Option.none())
                ))
            )
        yield* Effect.all(
          Array.from({ length: scenario.lanes }, (_, lane) => Effect.repeat(once(lane), { while: Option.isNone })),
          { concurrency: "unbounded" }
        )
      }).pipe(
        Effect.scoped,
        Effect.catchAllCause((cause) =>
          Effect.sync(() => {
            if (running[slot] === inc) running[slot] = undefined
            if (inc.crashed) return
            if (!endedOnInjected(cause, inc)) {
              return void violations.push(`${inc.pod} failed: ${String(cause)}`)
            }
            // Its container restarts in the same Pod (fresh credentials) a second later.
            exits++
            runFork(
              runtime,
              scheduler,
              Effect.zipRight(clock.sleepMillis(1_000), Effect.sync(() => start(slot, inc.pod)))
            )
          })
        )
      )
    )
  }

  /** A bystander Pod (no candidate runs in it), deleted after `lifetime`. */
  const bystander = (lifetime: number) =>
    Effect.gen(function*() {
      const pod = yield* pods.create({ metadata: { name: `bystander-${++bystanders}`, namespace } })
      yield* Effect.forkDaemon(
        Effect.zipRight(clock.sleepMillis(lifetime), Effect.ignore(pods.delete(pod.metadata.name, namespace)))
      )
      return { apiVersion: "v1", kind: "Pod", name: pod.metadata.name, uid: pod.metadata.uid! }
    })

  const perform = (action: LflAction, slot: number) => {
    resolved.set(action, slot)
    switch (action.kind) {
      case "start":
        return start(slot)
      case "deletePod":
        return deletePod(slot, action.crash)
      case "errors":
        return void errorWindows[slot]!.push({
          from: action.at,
          to: action.at + action.duration,
          percent: action.percent
        })
      case "rotateCredentials": {
        const inc = running[slot]
        if (inc !== undefined) {
          count("rotateCredentials")
          inc.unauthorized = true
        }
        return
      }
      case "evict": {
        const inc = running[slot]
        if (inc === undefined) return
        count("evict")
        running[slot] = undefined
        inc.crashed = true
        runFork(runtime, scheduler, Fiber.interrupt(inc.fiber!))
        return void runFork(
          runtime,
          scheduler,
          Effect.gen(function*() {
            const pod = yield* pods.get(inc.pod, namespace)
            yield* pods.replace({ ...pod, status: { phase: "Failed", reason: "Evicted" } })
            if (action.finalizerFor === 0) return
            const lock = yield* configMaps.get(lockName, namespace)
            yield* configMaps.replace({ ...lock, metadata: { ...lock.metadata, finalizers: ["example.com/hold"] } })
            count("finalizer")
            // Its controller lets go later.
            yield* clock.sleepMillis(action.finalizerFor)
            const held = yield* configMaps.get(lockName, namespace)
            yield* configMaps.replace({ ...held, metadata: { ...held.metadata, finalizers: [] } })
          }).pipe(Effect.ignore)
        )
      }
      case "editOwner":
        return void runFork(
          runtime,
          scheduler,
          Effect.gen(function*() {
            const lock = yield* configMaps.get(lockName, namespace)
            const owner = yield* bystander(action.duration)
            yield* configMaps.replace({ ...lock, metadata: { ...lock.metadata, ownerReferences: [owner] } })
            count("editOwner")
            foreignAt.push(clock.now)
          }).pipe(Effect.ignore)
        )
      case "deleteLock": {
        // Leader for life cannot stop a leader that cannot see its lock (docs/leader-for-life.md): no deletion by
        // hand while a watch is failing.
        const flapping = scenario.actions.some((a) =>
          a.kind === "watchFlap" && a.at <= clock.now && clock.now < a.at + a.duration + backoffCap
        )
        if (flapping) return void count("deleteLockSkipped")
        return void runFork(
          runtime,
          scheduler,
          Effect.gen(function*() {
            yield* configMaps.delete(lockName, namespace)
            count("deleteLock")
            foreignAt.push(clock.now)
            if (!action.recreate) return
            const owner = yield* bystander(2_000)
            yield* configMaps.create({ metadata: { name: lockName, namespace, ownerReferences: [owner] } })
          }).pipe(Effect.ignore)
        )
      }
      default:
        // Windowed faults (defects, watchFlap, lateCommit) are looked up by time as requests happen.
        return
    }
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
      errorWindows.every((windows) => windows.every((w) => w.to <= clock.now - backoffCap || w.from > clock.now)) &&
      scenario.actions.every((a) =>
        a.kind === "start" || a.kind === "deletePod" || endOf(a) <= clock.now - backoffCap || a.at > clock.now
      )
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
      const target = "slot" in action ? action.slot : 0
      const slot = target === lflLeaderSlot
        ? (intervals.find((interval) => interval.end === undefined)?.slot ?? 0)
        : target % scenario.slots
      perform(action, slot)
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
  violations.push(...termViolations(intervals))
  const rates = checkRates(
    lflRateLimits,
    incarnations.map((inc) => ({ name: inc.pod, requests: inc.requests })),
    foreignAt,
    scenario.lanes
  )
  violations.push(...rates.violations)

  // No lock left behind: every process still running stops gracefully; the lock must then be gone, or owned by a
  // Pod none of them runs in.
  const stopping = running.filter((inc): inc is Incarnation => inc !== undefined)
  stopGracefully(runtime, scheduler, clock, stopping.map((inc) => inc.fiber!), endOfRun + 1_000)
  const left = runNow(runtime, scheduler, Effect.option(configMaps.get(lockName, namespace)))
  const owner = Option.getOrUndefined(left)?.metadata.ownerReferences?.[0]?.name
  // A process whose credentials were rotated away cannot release: its lock goes with its Pod, as documented.
  if (owner !== undefined && stopping.some((inc) => inc.pod === owner && !inc.unauthorized)) {
    violations.push(`the lock is still owned by ${owner} after its process stopped gracefully`)
  }

  return { violations, intervals, instantTakeovers, faultsByClass, peakRequests: rates.peaks, exits }
}
