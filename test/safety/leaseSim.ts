/**
 * One run of the Lease safety model (docs/safety.md) on Effect 3: 2 to 5 candidates on one in-memory API server,
 * each with its own drifting clock and its own `Leases` service that injects the faults of the scenario, driven on
 * the reference clock of the simulator. Returns what the invariants are checked on. The model itself (scenario,
 * schedule, fault decisions, checks) is `leaseModel.ts`, shared with the Effect 4 edition.
 */
import {
  Context,
  Deferred,
  Effect,
  Exit,
  Fiber,
  FiberId,
  Layer,
  Logger,
  LogLevel,
  Option,
  Random,
  Runtime,
  Stream
} from "effect"
import { ContextInfo } from "../../src/ContextInfo.js"
import type { LeaderElectionError } from "../../src/errors.js"
import { InMemoryCluster } from "../../src/InMemoryCluster.js"
import { K8sError, type K8sVerb } from "../../src/K8sError.js"
import { LeaderElection } from "../../src/LeaderElection.js"
import { Leases } from "../../src/Leases.js"
import { formatMicroTime, type Lease, type ResourceService } from "../../src/resources.js"
import type { Interval } from "./intervals.js"
import {
  type Action,
  addWindowFault,
  arrive,
  checkLeaseRun,
  clockOffset,
  deletionMayGoUnseen,
  foreignPatch,
  foreignTime,
  judge,
  leaseHorizon,
  leaseLeftBehind,
  leaseSchedule,
  lockName,
  namespace,
  type Outcome,
  resource,
  restartDelay,
  type Scenario,
  slotFaults,
  startAllowedAt,
  type Step,
  targetSlot
} from "./leaseModel.js"
import { DriftClock, endedOnInjected, runFork, runNow, SimClock, SimScheduler, stopGracefully } from "./sim.js"
import { blockedUntil, incarnationRandom, InjectedDefect, within } from "./timeline.js"

interface Incarnation {
  readonly id: number
  readonly slot: number
  readonly identity: string
  crashed: boolean
  /** Its credentials were rotated away: every request answers 401. */
  unauthorized: boolean
  injectedInterrupts: number
  /** Reference instants of every request it sent, watch openings included. */
  readonly requests: Array<number>
  /** Reference instants at which requests writing us as the holder started, that answered with success. */
  readonly writes: Array<number>
  watchDrop: Deferred.Deferred<never, K8sError>
  readonly random: () => number
  fiber: Fiber.RuntimeFiber<unknown, unknown> | undefined
}

export const simulateLease = (scenario: Scenario): Outcome => {
  const { profile } = scenario
  const clock = new SimClock()
  const scheduler = new SimScheduler()
  const { bound, endOfRun, permille, quietFrom } = leaseHorizon(scenario)

  // Fault windows per slot, added as their actions happen (an action may target whoever leads at that moment).
  const faults = slotFaults(scenario.slots)
  const clocks = permille.map((rate, slot) =>
    new DriftClock(clock, rate, clockOffset(scenario, slot), () => faults[slot]!.pauses)
  )

  // The shared API server and a runtime on the simulator: its scheduler, its reference clock, a seeded Random.
  const runtime = runNow(
    Runtime.defaultRuntime,
    scheduler,
    Effect.runtime<InMemoryCluster | Leases>().pipe(
      Effect.provide(InMemoryCluster.layer),
      Effect.withClock(clock),
      Effect.withRandom(Random.make(scenario.seed)),
      Logger.withMinimumLogLevel(LogLevel.None),
      Effect.withScheduler(scheduler)
    )
  )
  const shared = Context.get(runtime.context, Leases)
  const cluster = Context.get(runtime.context, InMemoryCluster)

  const violations: Array<string> = []
  const intervals: Array<Interval> = []
  const incarnations: Array<Incarnation> = []
  const running: Array<Incarnation | undefined> = Array.from({ length: scenario.slots }, () => undefined)
  let seq = 0
  let faultCount = 0
  let exits = 0
  const faultsByClass: Record<string, number> = {}
  const count = (kind: string) => {
    faultCount++
    faultsByClass[kind] = (faultsByClass[kind] ?? 0) + 1
  }
  /** Reference instants of foreign writes and deletions of the Lease, for the rate bound. */
  const foreignAt: Array<number> = []
  /** Reference instants of deletions of the Lease by hand: a candidate's start waits out `startAllowedAt`. */
  const handDeletions: Array<number> = []
  const restartedAt: Array<number> = []
  let intruders = 0

  const holdBlocked = (slot: number): Effect.Effect<void> =>
    Effect.suspend(() => {
      const until = blockedUntil(faults[slot]!.blocked, clock.now)
      return until > clock.now ? Effect.zipRight(clock.sleepUntil(until), holdBlocked(slot)) : Effect.void
    })

  const k8sError = (verb: K8sVerb, reason: K8sError["reason"], status: number | undefined, detail: string) =>
    new K8sError({ verb, resource, namespace, name: lockName, reason, status, detail })

  /** The candidate's own `Leases`: the shared one seen through the candidate's faults. */
  const leasesOf = (inc: Incarnation): ResourceService<Lease> => {
    const slot = faults[inc.slot]!
    const through = <A>(verb: K8sVerb, written: Lease | undefined, proceed: Effect.Effect<A, K8sError>) =>
      Effect.gen(function*() {
        const issuedAt = clock.now
        if (inc.crashed) return yield* Effect.never
        inc.requests.push(issuedAt)
        yield* holdBlocked(inc.slot)
        const t = clock.now
        if (inc.unauthorized) {
          return yield* Effect.fail(k8sError(verb, "Unauthorized", 401, "injected: the credentials were rotated"))
        }
        const arrival = arrive(slot, t, inc.random, count)
        if (arrival._tag === "Defect") return yield* Effect.die(new InjectedDefect())
        if (arrival._tag === "Interrupt") {
          inc.injectedInterrupts++
          return yield* Effect.interrupt
        }
        if (arrival.pre > 0) yield* clock.sleepMillis(arrival.pre)
        const isWrite = verb === "create" || verb === "update"
        const verdict = judge(slot, t, isWrite, inc.random, count)
        switch (verdict._tag) {
          case "Error":
            return yield* Effect.fail(
              verdict.reason === "Timeout"
                ? k8sError(verb, "Timeout", undefined, "injected: the request timed out")
                : k8sError(verb, "ServerError", 500, "injected: internal error")
            )
          case "Conflict":
            return yield* Effect.fail(k8sError(verb, "Conflict", 409, "injected: the object has been modified"))
          case "LateCommit":
            // The client gives up at once; the server commits the write later, whatever the client did since.
            yield* Effect.forkDaemon(Effect.zipRight(clock.sleepMillis(verdict.delay), Effect.either(proceed)))
            return yield* Effect.fail(k8sError(verb, "Timeout", undefined, "injected: no answer; committed later"))
        }
        const result = yield* proceed
        if (arrival.post > 0) yield* clock.sleepMillis(arrival.post)
        yield* holdBlocked(inc.slot)
        if (verdict.lose) {
          count("lostResponses")
          return yield* Effect.fail(
            k8sError(verb, "Transport", undefined, "injected: connection reset after the write")
          )
        }
        if (isWrite && written?.spec?.holderIdentity === inc.identity) inc.writes.push(issuedAt)
        return result
      })
    const holdEvent = Effect.suspend(() => inc.crashed ? Effect.never : holdBlocked(inc.slot))
    return {
      get: (name, ns) => through("get", undefined, shared.get(name, ns)),
      create: (lease) => through("create", lease, shared.create(lease)),
      replace: (lease) => through("update", lease, shared.replace(lease)),
      delete: (name, ns, options) => through("delete", undefined, shared.delete(name, ns, options)),
      watch: (name, ns, options) =>
        Stream.unwrap(Effect.gen(function*() {
          if (inc.crashed) return yield* Effect.never
          inc.requests.push(clock.now)
          yield* holdBlocked(inc.slot)
          if (inc.crashed) return yield* Effect.never
          if (inc.unauthorized) {
            return Stream.fail(k8sError("watch", "Unauthorized", 401, "injected: the credentials were rotated"))
          }
          if (slot.watchFlaps.some((a) => within(a, clock.now))) {
            count("watchFlap")
            return Stream.fail(k8sError("watch", "ServerError", 429, "injected: too many requests"))
          }
          return shared.watch(name, ns, options).pipe(
            Stream.mapEffect((event) => Effect.as(holdEvent, event)),
            Stream.interruptWhen(Deferred.await(inc.watchDrop))
          )
        }))
    }
  }

  const start = (slot: number, sameIdentity: boolean): void => {
    if (running[slot] !== undefined) return
    const allowedAt = startAllowedAt(scenario, handDeletions, clock.now)
    if (allowedAt > clock.now) {
      count("startDeferred")
      return void runFork(
        runtime,
        scheduler,
        Effect.zipRight(clock.sleepMillis(allowedAt - clock.now), Effect.sync(() => start(slot, sameIdentity)))
      )
    }
    const previous = incarnations.filter((inc) => inc.slot === slot).at(-1)
    // A process may reuse its slot's identity (a StatefulSet Pod) only once the previous one has exited.
    const reuse = previous !== undefined && sameIdentity && previous.fiber?.unsafePoll() != null
    const earlier = incarnations.filter((inc) => inc.slot === slot).length
    const identity = previous === undefined ? `c${slot}` : reuse ? previous.identity : `c${slot}-${earlier}`
    const id = incarnations.length
    const inc: Incarnation = {
      id,
      slot,
      identity,
      crashed: false,
      unauthorized: false,
      injectedInterrupts: 0,
      requests: [],
      writes: [],
      watchDrop: Deferred.unsafeMake(FiberId.none),
      random: incarnationRandom(scenario.seed, id),
      fiber: undefined
    }
    incarnations.push(inc)
    running[slot] = inc
    /** The protected effect of one loop: records its leadership interval until it is interrupted. */
    const leader = (lane: number, term: number | undefined) =>
      Effect.suspend(() => {
        const interval: Interval = {
          slot,
          incarnation: id,
          lane,
          identity,
          term,
          start: { t: clock.now, seq: seq++ },
          end: undefined
        }
        intervals.push(interval)
        return Effect.never.pipe(
          Effect.onExit(() =>
            Effect.sync(() => {
              interval.end = { t: clock.now, seq: seq++ }
            })
          )
        )
      })
    const program = Effect.gen(function*() {
      // Built in the process's scope, as a program's layers are.
      const election = yield* Layer.build(
        LeaderElection.leaseLock(lockName, {
          leaseDuration: profile.leaseDuration,
          renewDeadline: profile.renewDeadline,
          retryPeriod: profile.retryPeriod
        }).pipe(
          Layer.provide(Layer.succeed(Leases, leasesOf(inc))),
          Layer.provide(ContextInfo.test({ namespace, podName: identity }))
        )
      ).pipe(Effect.map(Context.get(LeaderElection)))
      // Like an operator that logs who leads: its own watch, whose backoff a flapping watch puts to the test.
      yield* Effect.forkScoped(Effect.ignore(Stream.runDrain(election.leaderChanges)))
      // Loops on one service: runAsLeader, or the scoped leadership that shows the term (as runAsLeader is built).
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
      const loop = (lane: number) => Effect.repeat(once(lane), { while: Option.isNone })
      yield* Effect.all(Array.from({ length: scenario.lanes }, (_, lane) => loop(lane)), { concurrency: "unbounded" })
    }).pipe(
      Effect.scoped,
      Effect.catchAllCause((cause) =>
        Effect.sync(() => {
          if (running[slot] === inc) running[slot] = undefined
          if (inc.crashed) return
          // A process ends like a real one on what was injected into it: a defect or an interruption from a
          // service, or a 401 after its credentials were rotated. Anything else is a finding.
          if (!endedOnInjected(cause, inc)) {
            return void violations.push(`${identity} failed: ${String(cause)}`)
          }
          // Its container is restarted (with fresh credentials) after a second, as a Deployment's would be.
          exits++
          runFork(
            runtime,
            scheduler,
            Effect.zipRight(
              clock.sleepMillis(restartDelay),
              Effect.sync(() => {
                restartedAt.push(clock.now)
                start(slot, false)
              })
            )
          )
        })
      ),
      Effect.withClock(clocks[slot]!)
    )
    inc.fiber = runFork(runtime, scheduler, program)
  }

  const stop = (slot: number, crash: boolean) => {
    const inc = running[slot]
    if (inc === undefined) return
    running[slot] = undefined
    if (crash) inc.crashed = true
    runFork(runtime, scheduler, Fiber.interrupt(inc.fiber!))
  }

  const perform = (action: Step) => {
    if (action.kind === "ensureRunning") {
      if (running.every((inc) => inc === undefined)) start(0, false)
      return
    }
    if (action.kind === "dropWatches") {
      count("dropWatches")
      runFork(runtime, scheduler, cluster.dropWatches)
      return
    }
    if (action.kind === "foreignWrite") return void runFork(runtime, scheduler, foreignWrite(action))
    if (action.kind === "deleteLease") {
      if (action.recreate !== "snapshot" && deletionMayGoUnseen(scenario, clock.now)) {
        return void count("deleteLeaseSkipped")
      }
      return void runFork(runtime, scheduler, deleteLease(action))
    }
    const slot = targetSlot(scenario, intervals, action.slot)
    switch (action.kind) {
      case "start":
        return start(slot, action.sameIdentity)
      case "stop":
      case "crash":
        count(action.kind)
        return stop(slot, action.kind === "crash")
      case "pause":
        count("pause")
        return addWindowFault(faults[slot]!, action)
      case "partition": {
        count("partition")
        addWindowFault(faults[slot]!, action)
        const inc = running[slot]
        if (action.dropWatch && inc !== undefined) {
          const dropped = inc.watchDrop
          inc.watchDrop = Deferred.unsafeMake(FiberId.none)
          Deferred.unsafeDone(
            dropped,
            Exit.fail(new K8sError({ verb: "watch", resource, reason: "Transport", detail: "injected: partition" }))
          )
        }
        return
      }
      case "rotateCredentials": {
        const inc = running[slot]
        if (inc !== undefined) {
          count("rotateCredentials")
          inc.unauthorized = true
        }
        return
      }
      default:
        // Windows the requests of the slot look up as they happen.
        return addWindowFault(faults[slot]!, action)
    }
  }

  /** What someone else writes: one field of the record, or a label; the rest as it was. */
  const foreignWrite = (action: Extract<Action, { kind: "foreignWrite" }>) =>
    Effect.gen(function*() {
      const current = yield* shared.get(lockName, namespace)
      const patch = foreignPatch(
        action,
        profile,
        `intruder-${++intruders}`,
        formatMicroTime(foreignTime(action.value))
      )
      yield* shared.replace(
        "labels" in patch
          ? { ...current, metadata: { ...current.metadata, labels: patch.labels } }
          : { ...current, spec: { ...current.spec, ...patch.spec } }
      )
      count("foreignWrite")
      foreignAt.push(clock.now)
    }).pipe(Effect.ignore)

  const deleteLease = (action: Extract<Action, { kind: "deleteLease" }>) =>
    Effect.gen(function*() {
      const current = yield* shared.get(lockName, namespace)
      yield* shared.delete(lockName, namespace)
      count("deleteLease")
      foreignAt.push(clock.now)
      if (action.recreate !== "snapshot") handDeletions.push(clock.now)
      if (action.recreate === "no") return
      yield* shared.create({
        metadata: { name: lockName, namespace },
        ...(action.recreate === "snapshot" && current.spec !== undefined ? { spec: current.spec } : {})
      })
    }).pipe(Effect.ignore)

  const schedule = leaseSchedule(scenario, quietFrom)

  // The driver: the next action or the next timer, whichever comes first; actions before timers at one instant.
  let next = 0
  scheduler.flush()
  while (true) {
    const action = schedule[next]
    const timer = clock.next()
    if (action !== undefined && action.at <= timer && action.at <= endOfRun) {
      clock.now = Math.max(clock.now, action.at)
      next++
      perform(action)
    } else if (timer <= endOfRun) {
      clock.wakeNext()
    } else {
      break
    }
    scheduler.flush()
  }
  clock.now = endOfRun

  // Invariants 1 to 5: two leaders, the deadline, recovery, the term, the request rates.
  const checked = checkLeaseRun({
    scenario,
    permille,
    faults,
    intervals,
    incarnations,
    foreignAt,
    quietFrom,
    restartedAt,
    bound,
    endOfRun
  })
  violations.push(...checked.violations)

  // Invariant 6: no lock left behind. Every process still running stops gracefully; the Lease must then name none
  // of them.
  const stopping = running.filter((inc): inc is Incarnation => inc !== undefined)
  // No fault is active any more: the releases' requests are bounded by requestTimeout.
  stopGracefully(runtime, scheduler, clock, stopping.map((inc) => inc.fiber!), endOfRun + profile.requestTimeout)
  const left = runNow(runtime, scheduler, Effect.option(shared.get(lockName, namespace)))
  violations.push(...leaseLeftBehind(stopping, Option.getOrUndefined(left)?.spec?.holderIdentity ?? ""))

  return {
    violations,
    intervals,
    quietFrom,
    livenessBound: bound,
    recoveredAfter: checked.recoveredAfter,
    faults: faultCount,
    faultsByClass,
    endOfRun,
    peakRequests: checked.peaks,
    exits
  }
}
