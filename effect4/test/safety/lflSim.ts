/**
 * One run of the leader-for-life model (docs/safety.md) on Effect 4, the port of `test/safety/lflSim.ts`: 2 to 4
 * candidates, each with its Pod, on the ConfigMap lock of one in-memory API server; their Pods are deleted (the
 * garbage collector then deletes the lock they own) and their lock requests fail at random. Driven on the simulator's
 * reference clock. The model itself (scenario, schedule, fault decisions, checks) is `test/safety/lflModel.ts`,
 * shared with the Effect 3 edition.
 */
import { Clock, Context, Effect, Fiber, Layer, Option, Random, References, Stream } from "effect"
import { ConfigMaps } from "../../../src/effect4/ConfigMaps.js"
import { ContextInfo } from "../../../src/effect4/ContextInfo.js"
import type { LeaderElectionError } from "../../../src/effect4/errors.js"
import { InMemoryCluster } from "../../../src/effect4/InMemoryCluster.js"
import { K8sError, type K8sVerb } from "../../../src/effect4/K8sError.js"
import { LeaderElection } from "../../../src/effect4/LeaderElection.js"
import { Pods } from "../../../src/effect4/Pods.js"
import type { ConfigMap, Pod, ResourceService } from "../../../src/effect4/resources.js"
import type { Interval } from "../../../test/safety/intervals.js"
import {
  activeWindows,
  checkLflRun,
  type ErrorWindow,
  handoverDue,
  injectInto,
  type LflAction,
  lflHorizon,
  lflLeftBehind,
  type LflOutcome,
  type LflScenario,
  lflSchedule,
  lflTargetSlot,
  lockErrorAt,
  lockName,
  namespace,
  recreatedOwnerLifetime,
  restartDelay,
  watchesMayFail
} from "../../../test/safety/lflModel.js"
import { incarnationRandom, InjectedDefect } from "../../../test/safety/timeline.js"
import { endedOnInjected, runFork, runNow, SimClock, SimScheduler, stopGracefully } from "./sim.js"

interface Incarnation {
  readonly id: number
  readonly slot: number
  readonly pod: string
  crashed: boolean
  unauthorized: boolean
  injectedInterrupts: number
  readonly requests: Array<number>
  readonly random: () => number
  fiber: Fiber.Fiber<unknown, unknown> | undefined
}

export const simulateLeaderForLife = (scenario: LflScenario): LflOutcome => {
  const clock = new SimClock()
  const scheduler = new SimScheduler()
  const context = runNow(
    Context.empty(),
    scheduler,
    Effect.context<InMemoryCluster | Pods | ConfigMaps>().pipe(
      Effect.provide(InMemoryCluster.layer),
      Effect.provideService(Clock.Clock, clock),
      Random.withSeed(scenario.seed),
      Effect.provideService(References.MinimumLogLevel, "None")
    )
  )
  const pods = Context.get(context, Pods)
  const configMaps = Context.get(context, ConfigMaps)

  const { endOfRun, quietFrom } = lflHorizon(scenario)
  const violations: Array<string> = []
  const intervals: Array<Interval> = []
  const incarnations: Array<Incarnation> = []
  const running: Array<Incarnation | undefined> = Array.from({ length: scenario.slots }, () => undefined)
  /** The Pod of each slot whose container is restarting: the slot is taken, no new Pod joins it meanwhile. */
  const restarting: Array<string | undefined> = Array.from({ length: scenario.slots }, () => undefined)
  const errorWindows: Array<Array<ErrorWindow>> = Array.from({ length: scenario.slots }, () => [])
  let lastInjectedAt = Number.NEGATIVE_INFINITY
  let exits = 0
  let bystanders = 0
  const faultsByClass: Record<string, number> = {}
  const count = (kind: string) => {
    lastInjectedAt = clock.now
    faultsByClass[kind] = (faultsByClass[kind] ?? 0) + 1
  }
  /** The slot each action was resolved to when it happened. */
  const resolved = new Map<LflAction, number>()
  const foreignAt: Array<number> = []
  let seq = 0
  const takeoversDue: Array<number> = []

  /** The candidate's own ConfigMaps: lock requests fail inside its error windows; a crashed process sends nothing. */
  const configMapsOf = (inc: Incarnation): ResourceService<ConfigMap> => {
    const through = <A>(verb: K8sVerb, proceed: Effect.Effect<A, K8sError>) =>
      Effect.suspend(() => {
        if (inc.crashed) return Effect.never
        const injected = inject(inc, verb, "configmaps", proceed)
        if (injected !== undefined) return injected
        if (lockErrorAt(errorWindows[inc.slot]!, clock.now, inc.random, count)) {
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
    const createsLock = verb === "create" && resource === "configmaps"
    const injected = injectInto(scenario, resolved, inc.slot, clock.now, createsLock, inc.random, count)
    switch (injected?._tag) {
      case undefined:
        return undefined
      case "Defect":
        return Effect.die(new InjectedDefect())
      case "Interrupt":
        inc.injectedInterrupts++
        return Effect.interrupt
      case "LateCommit":
        return Effect.andThen(
          Effect.forkDetach(Effect.andThen(clock.sleepMillis(injected.delay), Effect.result(proceed))),
          Effect.fail(injectedError(verb, resource, "Timeout", undefined))
        )
    }
  }

  const watchThrough = <A>(inc: Incarnation, resource: string, watch: Stream.Stream<A, K8sError>) =>
    Stream.suspend(() => {
      if (inc.crashed) return Stream.never
      inc.requests.push(clock.now)
      if (inc.unauthorized) return Stream.fail(injectedError("watch", resource, "Unauthorized", 401))
      if (activeWindows(scenario, resolved, "watchFlap", inc.slot, clock.now).length > 0) {
        count("watchFlap")
        return Stream.fail(injectedError("watch", resource, "ServerError", 429))
      }
      return watch
    })

  /** Starts a process for `slot`: in a new Pod, or in `pod` (its container restarted). */
  const start = (slot: number, pod?: string) => {
    if (running[slot] !== undefined || (pod === undefined && restarting[slot] !== undefined)) return
    const id = incarnations.length
    const inc: Incarnation = {
      id,
      slot,
      pod: pod ?? `p${slot}-${id}`,
      crashed: false,
      unauthorized: false,
      injectedInterrupts: 0,
      requests: [],
      random: incarnationRandom(scenario.seed, id),
      fiber: undefined
    }
    incarnations.push(inc)
    running[slot] = inc
    if (pod === undefined) runNow(context, scheduler, pods.create({ metadata: { name: inc.pod, namespace } }))
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
      context,
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
        Effect.catchCause((cause) =>
          Effect.sync(() => {
            if (running[slot] === inc) running[slot] = undefined
            if (inc.crashed) return
            if (!endedOnInjected(cause, inc)) {
              return void violations.push(`${inc.pod} failed: ${String(cause)}`)
            }
            // Its container restarts in the same Pod (fresh credentials) a second later.
            exits++
            restarting[slot] = inc.pod
            runFork(
              context,
              scheduler,
              Effect.andThen(
                clock.sleepMillis(restartDelay),
                Effect.sync(() => {
                  restarting[slot] = undefined
                  start(slot, inc.pod)
                })
              )
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
      yield* Effect.forkDetach(
        Effect.andThen(clock.sleepMillis(lifetime), Effect.ignore(pods.delete(pod.metadata.name, namespace)))
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
        runFork(context, scheduler, Fiber.interrupt(inc.fiber!))
        return void runFork(
          context,
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
        // The same for an owner edit: the garbage collector deletes the lock when the bystander goes.
        if (watchesMayFail(scenario, clock.now)) return void count("editOwnerSkipped")
        return void runFork(
          context,
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
        if (watchesMayFail(scenario, clock.now)) return void count("deleteLockSkipped")
        return void runFork(
          context,
          scheduler,
          Effect.gen(function*() {
            yield* configMaps.delete(lockName, namespace)
            count("deleteLock")
            foreignAt.push(clock.now)
            if (!action.recreate) return
            const owner = yield* bystander(recreatedOwnerLifetime)
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
    runFork(context, scheduler, Fiber.interrupt(inc.fiber!))
    scheduler.flush()
    runFork(context, scheduler, Effect.ignore(pods.delete(inc.pod, namespace)))
    const standby = running.some((other) => other !== undefined)
    if (handoverDue(scenario, errorWindows, lastInjectedAt, clock.now, wasLeading, standby)) {
      takeoversDue.push(clock.now)
    }
  }

  const schedule = lflSchedule(scenario)

  let next = 0
  scheduler.flush()
  while (true) {
    const action = schedule[next]
    const timer = clock.next()
    if (action !== undefined && action.at <= timer) {
      clock.now = Math.max(clock.now, action.at)
      next++
      perform(action, lflTargetSlot(scenario, intervals, action))
    } else if (timer <= endOfRun) {
      clock.wakeNext()
    } else {
      break
    }
    scheduler.flush()
  }
  clock.now = endOfRun

  const checked = checkLflRun({
    scenario,
    intervals,
    incarnations,
    takeoversDue,
    foreignAt,
    quietFrom,
    endOfRun,
    running: running.some((inc) => inc !== undefined)
  })
  violations.push(...checked.violations)

  // No lock left behind: every process still running stops gracefully; the lock must then be gone, or owned by a
  // Pod none of them runs in.
  const stopping = running.filter((inc): inc is Incarnation => inc !== undefined)
  stopGracefully(context, scheduler, clock, stopping.map((inc) => inc.fiber!), endOfRun + 1_000)
  const left = runNow(context, scheduler, Effect.option(configMaps.get(lockName, namespace)))
  violations.push(...lflLeftBehind(stopping, Option.getOrUndefined(left)?.metadata.ownerReferences?.[0]?.name))

  return {
    violations,
    intervals,
    instantTakeovers: takeoversDue.length,
    faultsByClass,
    peakRequests: checked.peaks,
    exits
  }
}
