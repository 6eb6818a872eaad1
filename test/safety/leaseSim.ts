/**
 * One run of the Lease safety model (docs/safety.md): 2 to 5 candidates on one in-memory API server, each with its
 * own drifting clock and its own `Leases` service that injects the faults of the scenario, driven on the reference
 * clock of the simulator. Returns what the invariants are checked on.
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
import {
  activePieces,
  checkRates,
  type Interval,
  overlaps,
  type Piece,
  type RateLimits,
  recovery,
  termViolations
} from "./intervals.js"
import {
  blockedUntil,
  ceilDiv,
  DriftClock,
  endedOnInjected,
  InjectedDefect,
  merge,
  prng,
  type ProcessFault,
  runFork,
  runNow,
  SimClock,
  SimScheduler,
  stopGracefully,
  type Window
} from "./sim.js"

export interface Profile {
  readonly name: string
  readonly leaseDuration: number
  readonly renewDeadline: number
  readonly retryPeriod: number
  /** The library's default: renewDeadline / 2. */
  readonly requestTimeout: number
}

export const fast: Profile = {
  name: "fast 4/3/1 s",
  leaseDuration: 4000,
  renewDeadline: 3000,
  retryPeriod: 1000,
  requestTimeout: 1500
}
export const defaults: Profile = {
  name: "defaults 15/10/2 s",
  leaseDuration: 15000,
  renewDeadline: 10000,
  retryPeriod: 2000,
  requestTimeout: 5000
}

/** The documented drift bound: every clock runs at a rate in [1 - d, 1 + d] of the reference clock. */
export const maxDrift = 0.1
export const minPermille = 1000 - maxDrift * 1000
export const maxPermille = 1000 + maxDrift * 1000

export type Action =
  | { readonly kind: "start"; readonly at: number; readonly slot: number; readonly sameIdentity: boolean }
  | { readonly kind: "stop" | "crash"; readonly at: number; readonly slot: number }
  | {
    readonly kind: "errors"
    readonly at: number
    readonly slot: number
    readonly duration: number
    readonly percent: number
    readonly reason: "ServerError" | "Timeout"
  }
  | {
    readonly kind: "latency"
    readonly at: number
    readonly slot: number
    readonly duration: number
    readonly max: number
  }
  | {
    readonly kind: "conflicts"
    readonly at: number
    readonly slot: number
    readonly duration: number
    readonly percent: number
  }
  | {
    readonly kind: "lostResponses"
    readonly at: number
    readonly slot: number
    readonly duration: number
    readonly percent: number
  }
  | {
    readonly kind: "partition"
    readonly at: number
    readonly slot: number
    readonly duration: number
    readonly dropWatch: boolean
  }
  | { readonly kind: "pause"; readonly at: number; readonly slot: number; readonly duration: number }
  | { readonly kind: "dropWatches"; readonly at: number }
  /** Someone else (kubectl, GitOps) writes one field of the record, or a label, keeping the rest. */
  | { readonly kind: "foreignWrite"; readonly at: number; readonly field: ForeignField; readonly value: number }
  /** Someone else deletes the Lease; it may come back: empty, or as it was (a restored snapshot). */
  | { readonly kind: "deleteLease"; readonly at: number; readonly recreate: "no" | "empty" | "snapshot" }
  | ProcessFault

export type ForeignField = "holder" | "duration" | "renewTime" | "acquireTime" | "transitions" | "labels"

export interface Scenario {
  readonly seed: number
  readonly profile: Profile
  readonly slots: number
  /** Each slot's clock rate in permille of the reference clock. */
  readonly permille: ReadonlyArray<number>
  /** When each slot's first process starts (null: only on a `start` action); slot 0 always starts. */
  readonly initial: ReadonlyArray<number | null>
  readonly actions: ReadonlyArray<Action>
  /** How many election loops each process runs at once on its one LeaderElection service (1 to 3). */
  readonly lanes: number
}

export interface Outcome {
  readonly violations: ReadonlyArray<string>
  readonly intervals: ReadonlyArray<Interval>
  /** The last fault: no fault, start or stop after it. */
  readonly quietFrom: number
  readonly livenessBound: number
  /** Reference ms from quietFrom until someone leads for good. */
  readonly recoveredAfter: number | undefined
  readonly faults: number
  readonly faultsByClass: Readonly<Record<string, number>>
  readonly endOfRun: number
  /** The most requests one process sent within each rate limit's window (`rateLimits`). */
  readonly peakRequests: ReadonlyArray<number>
  /** Processes that ended on an injected defect, interruption or rotated credential, as real ones would. */
  readonly exits: number
}

/** A process that ended on an injected fault is restarted this long after (reference ms), as its container would be. */
const restartDelay = 1_000

/** The rate bounds of this model (docs/safety.md derives them). */
export const leaseRateLimits: RateLimits = [
  { window: 5_000, bound: 60 },
  { window: 30_000, bound: 120 }
]

const namespace = "ops"
const lockName = "safety-lease"
const resource = "leases.coordination.k8s.io"

/** Slots 0 to 4 name a slot (modulo the number of slots); 5 means whoever leads when the action happens. */
export const leaderSlot = 5

const durationOf = (action: Action) => "duration" in action ? action.duration : 0

/** The liveness bound after the last fault: see docs/safety.md. */
export const livenessBound = (profile: Profile, slowestPermille: number) =>
  ceilDiv(
    Math.ceil(profile.leaseDuration + profile.requestTimeout + 2.2 * profile.retryPeriod) * 1000,
    slowestPermille
  ) + 10

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

interface SlotFaults {
  blocked: Array<Window>
  pauses: Array<Window>
  readonly errors: Array<Extract<Action, { kind: "errors" }>>
  readonly latency: Array<Extract<Action, { kind: "latency" }>>
  readonly conflicts: Array<Extract<Action, { kind: "conflicts" }>>
  readonly lostResponses: Array<Extract<Action, { kind: "lostResponses" }>>
  readonly defects: Array<Extract<Action, { kind: "defects" }>>
  readonly watchFlaps: Array<Extract<Action, { kind: "watchFlap" }>>
  readonly lateCommits: Array<Extract<Action, { kind: "lateCommit" }>>
}

const within = (action: { readonly at: number; readonly duration: number }, t: number) =>
  action.at <= t && t < action.at + action.duration

export const simulateLease = (scenario: Scenario): Outcome => {
  const { profile } = scenario
  const clock = new SimClock()
  const scheduler = new SimScheduler()
  const actions = scenario.actions
  const quietFrom = Math.max(0, ...scenario.initial.map((at) => at ?? 0), ...actions.map((a) => a.at + durationOf(a)))
  const permille = Array.from({ length: scenario.slots }, (_, slot) => scenario.permille[slot] ?? 1000)
  const bound = livenessBound(profile, Math.min(...permille))
  const endOfRun = quietFrom + bound + 2 * profile.leaseDuration

  // Fault windows per slot, added as their actions happen (an action may target whoever leads at that moment).
  const faults: Array<SlotFaults> = Array.from({ length: scenario.slots }, () => ({
    blocked: [],
    pauses: [],
    errors: [],
    latency: [],
    conflicts: [],
    lostResponses: [],
    defects: [],
    watchFlaps: [],
    lateCommits: []
  }))
  const clocks = permille.map((rate, slot) =>
    new DriftClock(clock, rate, 1_000_000 * (slot + 1) + (scenario.seed & 0xffff), () => faults[slot]!.pauses)
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
        const rnd = inc.random
        if (inc.unauthorized) {
          return yield* Effect.fail(k8sError(verb, "Unauthorized", 401, "injected: the credentials were rotated"))
        }
        const defect = slot.defects.find((a) => within(a, t))
        if (defect !== undefined && rnd() * 100 < defect.percent) {
          count("defects")
          if (!defect.interrupt) return yield* Effect.die(new InjectedDefect())
          inc.injectedInterrupts++
          return yield* Effect.interrupt
        }
        const latency = slot.latency.find((a) => within(a, t))
        const total = latency === undefined ? 0 : Math.floor(rnd() * latency.max)
        if (total > 0) count("latency")
        const pre = Math.floor(rnd() * total)
        if (pre > 0) yield* clock.sleepMillis(pre)
        const error = slot.errors.find((a) => within(a, t))
        if (error !== undefined && rnd() * 100 < error.percent) {
          count("errors")
          return yield* Effect.fail(
            error.reason === "Timeout"
              ? k8sError(verb, "Timeout", undefined, "injected: the request timed out")
              : k8sError(verb, "ServerError", 500, "injected: internal error")
          )
        }
        const isWrite = verb === "create" || verb === "update"
        const conflict = slot.conflicts.find((a) => within(a, t))
        if (isWrite && conflict !== undefined && rnd() * 100 < conflict.percent) {
          count("conflicts")
          return yield* Effect.fail(k8sError(verb, "Conflict", 409, "injected: the object has been modified"))
        }
        const late = slot.lateCommits.find((a) => within(a, t))
        if (isWrite && late !== undefined && rnd() * 100 < late.percent) {
          count("lateCommit")
          // The client gives up at once; the server commits the write later, whatever the client did since.
          yield* Effect.forkDaemon(Effect.zipRight(clock.sleepMillis(late.delay), Effect.either(proceed)))
          return yield* Effect.fail(k8sError(verb, "Timeout", undefined, "injected: no answer; committed later"))
        }
        const lost = slot.lostResponses.find((a) => within(a, t))
        const lose = isWrite && lost !== undefined && rnd() * 100 < lost.percent
        const result = yield* proceed
        if (total - pre > 0) yield* clock.sleepMillis(total - pre)
        yield* holdBlocked(inc.slot)
        if (lose) {
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

  const start = (slot: number, sameIdentity: boolean) => {
    if (running[slot] !== undefined) return
    const previous = incarnations.filter((inc) => inc.slot === slot).at(-1)
    // A process may reuse its slot's identity (a StatefulSet Pod) only once the previous one has exited.
    const reuse = previous !== undefined && sameIdentity && previous.fiber?.unsafePoll() != null
    const count = incarnations.filter((inc) => inc.slot === slot).length
    const identity = previous === undefined ? `c${slot}` : reuse ? previous.identity : `c${slot}-${count}`
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
      random: prng((scenario.seed ^ Math.imul(id + 1, 0x9e3779b1)) >>> 0),
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
            Effect.zipRight(clock.sleepMillis(restartDelay), Effect.sync(() => start(slot, false)))
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

  const resolve = (slot: number) => {
    if (slot !== leaderSlot) return slot % scenario.slots
    const leading = intervals.find((interval) => interval.end === undefined)
    return leading === undefined ? (scenario.seed >>> 0) % scenario.slots : leading.slot
  }

  const perform = (action: Action | { readonly kind: "ensureRunning"; readonly at: number }) => {
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
    if (action.kind === "deleteLease") return void runFork(runtime, scheduler, deleteLease(action))
    const slot = resolve(action.slot)
    const mine = faults[slot]!
    const window = { from: action.at, to: action.at + durationOf(action) }
    switch (action.kind) {
      case "start":
        return start(slot, action.sameIdentity)
      case "stop":
      case "crash":
        count(action.kind)
        return stop(slot, action.kind === "crash")
      case "pause":
        count("pause")
        mine.pauses = merge([...mine.pauses, window])
        mine.blocked = merge([...mine.blocked, window])
        return
      case "partition": {
        count("partition")
        mine.blocked = merge([...mine.blocked, window])
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
      case "errors":
        mine.errors.push(action)
        return
      case "latency":
        mine.latency.push(action)
        return
      case "conflicts":
        mine.conflicts.push(action)
        return
      case "lostResponses":
        mine.lostResponses.push(action)
        return
      case "defects":
        mine.defects.push(action)
        return
      case "watchFlap":
        mine.watchFlaps.push(action)
        return
      case "lateCommit":
        mine.lateCommits.push(action)
        return
      case "rotateCredentials": {
        const inc = running[slot]
        if (inc !== undefined) {
          count("rotateCredentials")
          inc.unauthorized = true
        }
        return
      }
    }
  }

  /** What someone else writes: one field of the record, or a label; the rest as it was. */
  const foreignWrite = (action: Extract<Action, { kind: "foreignWrite" }>) =>
    Effect.gen(function*() {
      const current = yield* shared.get(lockName, namespace)
      const spec = current.spec ?? {}
      const time = formatMicroTime(1_700_000_000_000 + action.value * 1000)
      const fields: Record<Exclude<ForeignField, "labels">, NonNullable<Lease["spec"]>> = {
        holder: { holderIdentity: `intruder-${++intruders}` },
        // 0 (none) to a little under ours: shorter is what can hurt.
        duration: { leaseDurationSeconds: action.value % Math.floor(profile.leaseDuration / 1000) },
        renewTime: { renewTime: time },
        acquireTime: { acquireTime: time },
        transitions: { leaseTransitions: action.value }
      }
      yield* shared.replace(
        action.field === "labels"
          ? { ...current, metadata: { ...current.metadata, labels: { foreign: String(action.value) } } }
          : { ...current, spec: { ...spec, ...fields[action.field] } }
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
      if (action.recreate === "no") return
      yield* shared.create({
        metadata: { name: lockName, namespace },
        ...(action.recreate === "snapshot" && current.spec !== undefined ? { spec: current.spec } : {})
      })
    }).pipe(Effect.ignore)

  const timeline: Array<Action | { readonly kind: "ensureRunning"; readonly at: number }> = [
    ...scenario.initial.flatMap((at, slot) =>
      slot < scenario.slots && (at !== null || slot === 0)
        ? [{ kind: "start" as const, at: at ?? 0, slot, sameIdentity: false }]
        : []
    ),
    ...actions,
    { kind: "ensureRunning" as const, at: quietFrom }
  ].sort((a, b) => a.at - b.at)

  // The driver: the next action or the next timer, whichever comes first; actions before timers at one instant.
  let next = 0
  scheduler.flush()
  while (true) {
    const action = timeline[next]
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

  // Invariant 1: no two leaders on the reference clock (pauses cut out; see activePieces).
  const pieces: Array<Piece> = intervals.flatMap((interval) =>
    activePieces(interval, endOfRun, faults[interval.slot]!.pauses)
  )
  violations.push(...overlaps(pieces))

  // Invariant 2: each leader stops no later than renewDeadline (on its clock) after its last successful renew began.
  for (const interval of intervals) {
    const inc = incarnations[interval.incarnation]!
    const end = interval.end?.t ?? endOfRun
    const last = Math.max(...inc.writes.filter((w) => w <= end))
    if (!Number.isFinite(last)) {
      violations.push(`${inc.identity} led from ${interval.start.t}ms without a successful write`)
      continue
    }
    const deadline = last + clocks[inc.slot]!.refMillis(profile.renewDeadline) + 1
    const allowed = blockedUntil(faults[inc.slot]!.pauses, deadline)
    if (end > allowed) {
      violations.push(
        `${inc.identity} led until ${end}ms, past its deadline ${allowed}ms (last successful renew began at ${last}ms, clock rate ${
          permille[inc.slot]
        }‰)`
      )
    }
  }

  // Invariant 3: after the last fault someone leads within the bound, and for good.
  const recovered = recovery(pieces, quietFrom, endOfRun)
  if (recovered === undefined) violations.push(`nobody leads at the end of the run (${endOfRun}ms)`)
  else if (recovered - quietFrom > bound) {
    violations.push(
      `leaderless until ${recovered}ms: ${recovered - quietFrom}ms after the last fault, bound ${bound}ms`
    )
  }

  // Invariant 4: the term strictly grows with each new leadership, across deletions and re-creations too.
  violations.push(...termViolations(intervals))

  // Invariant 5: every process's request rate stays bounded, whatever the faults.
  const rates = checkRates(
    leaseRateLimits,
    incarnations.map((inc) => ({ name: inc.identity, requests: inc.requests })),
    foreignAt,
    scenario.lanes
  )
  violations.push(...rates.violations)

  // Invariant 6: no lock left behind. Every process still running stops gracefully; the Lease must then name none
  // of them (released: an empty holder), whatever happened before.
  const stopping = running.filter((inc): inc is Incarnation => inc !== undefined)
  // No fault is active any more: the releases' requests are bounded by requestTimeout.
  stopGracefully(runtime, scheduler, clock, stopping.map((inc) => inc.fiber!), endOfRun + profile.requestTimeout)
  const left = runNow(runtime, scheduler, Effect.option(shared.get(lockName, namespace)))
  const holder = Option.getOrUndefined(left)?.spec?.holderIdentity ?? ""
  // A process whose credentials were rotated away cannot release: its Lease expires, as documented.
  if (stopping.some((inc) => inc.identity === holder && !inc.unauthorized)) {
    violations.push(`the Lease still names ${holder} after it stopped gracefully`)
  }

  return {
    violations,
    intervals,
    quietFrom,
    livenessBound: bound,
    recoveredAfter: recovered === undefined ? undefined : recovered - quietFrom,
    faults: faultCount,
    faultsByClass,
    endOfRun,
    peakRequests: rates.peaks,
    exits
  }
}
