/**
 * Step 3 of the Lease lock: client-go's `tryAcquireOrRenew`, cut into its single writes. Each request is bounded
 * by requestTimeout; each write keeps every field of the Lease it does not own. What each write puts in the record
 * is decided in `../../../internal/lease/record.ts`, shared with the Effect 3 edition.
 */
import { Clock, Duration, Effect, Metric, Option } from "effect"
import {
  createFields,
  heldByAnother,
  holderOf,
  type RecordFields,
  releaseAttempts,
  releaseFields,
  renewFields,
  takeFields
} from "../../../internal/lease/record.js"
import { K8sError } from "../../K8sError.js"
import { formatMicroTime, type Lease, type ResourceService } from "../../resources.js"
import { forLock, slowPath } from "../metrics.js"
import { monotonicMillis } from "../time.js"
import type { Observer } from "./observer.js"
import type { LeaseSettings } from "./settings.js"

/** The outcome of one try to acquire. */
export type TryAcquire =
  | { readonly _tag: "Acquired"; readonly lease: Lease; readonly startedAt: number }
  | { readonly _tag: "Held"; readonly holder: string; readonly expiresAt: number }

/** The outcome of one renew. */
export type Renew =
  | { readonly _tag: "Renewed"; readonly lease: Lease }
  | { readonly _tag: "Taken"; readonly holder: string }

/** @internal */
export const makeProtocol = (
  leases: ResourceService<Lease>,
  lockName: string,
  namespace: string,
  settings: LeaseSettings
) => {
  const { identity, requestTimeout } = settings
  const writer = { identity, leaseDurationSeconds: Duration.toSeconds(settings.leaseDuration) }
  const microTimeNow = Effect.map(Clock.currentTimeMillis, formatMicroTime)

  /**
   * Every request is bounded by requestTimeout; the timeout interrupts it, which aborts its HTTP request. The
   * request is made interruptible so that the bound also holds in uninterruptible regions (the release runs in
   * a finalizer), where the timeout could not interrupt it otherwise and would wait for it forever.
   */
  const bounded = <A>(request: Effect.Effect<A, K8sError>, verb: "get" | "create" | "update") =>
    Effect.timeoutOrElse(Effect.interruptible(request), {
      duration: requestTimeout,
      orElse: () =>
        Effect.fail(
          new K8sError({
            verb,
            resource: "leases.coordination.k8s.io",
            namespace,
            name: lockName,
            reason: "Timeout",
            detail: `no answer within requestTimeout ${Duration.format(requestTimeout)}; the request was aborted`
          })
        )
    })

  const get = bounded(leases.get(lockName, namespace), "get").pipe(
    Effect.map(Option.some),
    Effect.catchIf((error) => error.reason === "NotFound", () => Effect.succeedNone)
  )

  /** The watch's GET (at every (re)connection) is bounded by requestTimeout too, like every other request. */
  const watched: ResourceService<Lease> = { ...leases, get: (name, ns) => bounded(leases.get(name, ns), "get") }

  /** The record a write of ours puts in the Lease (`fields`, see `record.ts`), keeping every field we do not own. */
  const record = (lease: Option.Option<Lease>, fields: RecordFields): Lease => ({
    ...Option.getOrElse(lease, (): Lease => ({ metadata: { name: lockName, namespace } })),
    spec: { ...Option.getOrUndefined(lease)?.spec, ...fields }
  })

  /** One try for a candidate that does not lead: the written Lease, or who holds it until when. */
  const tryAcquire = (observer: Observer): Effect.Effect<TryAcquire, K8sError> =>
    Effect.gen(function*() {
      const seen = yield* observer.get
      const now = yield* monotonicMillis
      // An empty holder is free at once; a held record, at its expiry (see `judge` in record.ts).
      if (heldByAnother(seen, identity, now)) {
        return { _tag: "Held", holder: seen.holder, expiresAt: seen.heldUntil } as const
      }
      const startedAt = yield* monotonicMillis
      const time = yield* microTimeNow
      const written = Option.isNone(seen.lease)
        ? yield* bounded(leases.create(record(seen.lease, createFields(writer, time))), "create")
        : yield* bounded(leases.replace(record(seen.lease, takeFields(seen.lease.value, writer, time))), "update")
      yield* observer.see(Option.some(written))
      return { _tag: "Acquired", lease: written, startedAt } as const
    })

  /**
   * One renew, from the cached Lease with no GET; on any failure GET it and update once more. Like client-go, every
   * renew writes our holder and our duration (`renewFields`), so a foreign edit of either does not outlive it.
   */
  const renew = (cached: Lease): Effect.Effect<Renew, K8sError> =>
    Effect.gen(function*() {
      const ours = renewFields(writer, yield* microTimeNow)
      const fast = yield* bounded(leases.replace(record(Option.some(cached), ours)), "update").pipe(Effect.result)
      if (fast._tag === "Success") return { _tag: "Renewed", lease: fast.success } as const
      yield* Metric.update(forLock(lockName)(slowPath), 1)
      yield* Effect.logDebug(`renew from the cached Lease failed, reading it: ${fast.failure.message}`)
      const current = yield* get
      const holder = holderOf(Option.getOrUndefined(current))
      if (Option.isNone(current) || holder !== identity) return { _tag: "Taken", holder } as const
      const lease = yield* bounded(leases.replace(record(current, ours)), "update")
      return { _tag: "Renewed", lease } as const
    })

  /** client-go's release (see `releaseFields`), retried on conflicts. */
  const release = (latest: Option.Option<Lease>) =>
    Effect.gen(function*() {
      let lease = latest
      for (let attempt = 1; attempt <= releaseAttempts; attempt++) {
        if (Option.isNone(lease) || holderOf(lease.value) !== identity) return
        const written = yield* bounded(leases.replace(record(lease, releaseFields(yield* microTimeNow))), "update")
          .pipe(Effect.result)
        if (written._tag === "Success") return yield* Effect.logInfo("released")
        if (written.failure.reason !== "Conflict") return yield* written.failure
        lease = yield* get
      }
      yield* Effect.logWarning(`release gave up after ${releaseAttempts} conflicts; the lease expires on its own`)
    })

  return { get, watched, tryAcquire, renew, release } as const
}
