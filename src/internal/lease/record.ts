/**
 * The Lease protocol's pure decisions, with no Effect in them, shared by both editions so that they write the same
 * bytes and judge the same way as client-go's `tools/leaderelection`: the fields each write of ours sets (acquire,
 * renew, release), how a candidate judges who holds the Lease until when on its own monotonic clock, and the
 * leader's deadline. Times are milliseconds on the candidate's monotonic clock; `time` is a MicroTime the caller
 * formatted from its wall clock (`formatMicroTime`).
 */

/**
 * The leader election record of a `coordination.k8s.io/v1` Lease, as both editions' `Lease` type holds it (the
 * fields client-go reads and writes; a Lease may hold more, which every write keeps).
 */
export interface LeaseRecord {
  readonly holderIdentity?: string | null | undefined
  readonly leaseDurationSeconds?: number | null | undefined
  readonly acquireTime?: string | null | undefined
  readonly renewTime?: string | null | undefined
  readonly leaseTransitions?: number | null | undefined
}

/** What the decisions read of a Lease object: its identity, its version and its record. */
export interface LeaseObject {
  readonly metadata: { readonly uid?: string | undefined; readonly resourceVersion?: string | undefined }
  readonly spec?: LeaseRecord | undefined
}

/** The fields of the record a write of ours sets; every other field of the Lease is kept as it is. */
export interface RecordFields {
  readonly holderIdentity: string
  readonly leaseDurationSeconds: number
  readonly renewTime: string
  readonly acquireTime?: string
  readonly leaseTransitions?: number
}

/** Who writes: the holder identity and the lease duration (whole seconds) its writes put in the record. */
export interface Writer {
  readonly identity: string
  readonly leaseDurationSeconds: number
}

/** The holder the record names; "" when there is none (or no Lease). */
export const holderOf = (lease: LeaseObject | undefined): string => lease?.spec?.holderIdentity ?? ""

/** The record's own duration in milliseconds: 0 when it has none (or there is no Lease). */
export const recordedMillis = (lease: LeaseObject | undefined): number =>
  (lease?.spec?.leaseDurationSeconds ?? 0) * 1000

/** client-go's acquire of a Lease that does not exist (a create): a first holder, no transition yet. */
export const createFields = (writer: Writer, time: string): RecordFields => ({
  holderIdentity: writer.identity,
  leaseDurationSeconds: writer.leaseDurationSeconds,
  acquireTime: time,
  renewTime: time,
  leaseTransitions: 0
})

/**
 * client-go's acquire of an existing Lease (an update): a new holder counts a transition and stamps its
 * acquireTime; the same holder keeps both.
 */
export const takeFields = (current: LeaseObject, writer: Writer, time: string): RecordFields => ({
  holderIdentity: writer.identity,
  leaseDurationSeconds: writer.leaseDurationSeconds,
  renewTime: time,
  ...(holderOf(current) === writer.identity
    ? {}
    : { acquireTime: time, leaseTransitions: (current.spec?.leaseTransitions ?? 0) + 1 })
})

/**
 * client-go's renew: every renew writes our holder and our duration, so a foreign edit of either does not outlive
 * it; acquireTime and leaseTransitions are kept.
 */
export const renewFields = (writer: Writer, time: string): RecordFields => ({
  holderIdentity: writer.identity,
  leaseDurationSeconds: writer.leaseDurationSeconds,
  renewTime: time
})

/** client-go's release: an empty holder, a 1 s duration, acquireTime = renewTime = now, transitions unchanged. */
export const releaseFields = (time: string): RecordFields => ({
  holderIdentity: "",
  leaseDurationSeconds: 1,
  acquireTime: time,
  renewTime: time
})

/** How many times a release is tried on conflicts before the Lease is left to expire on its own. */
export const releaseAttempts = 3

/** Who holds the Lease for followers, and until when on this candidate's monotonic clock (0: free). */
export interface Holding {
  readonly holder: string
  readonly heldUntil: number
}

/** What a candidate last saw: the Lease (`undefined` while there is none) and who holds it until when. */
export interface Seen extends Holding {
  readonly lease: LeaseObject | undefined
}

/**
 * client-go's rule, the record's holder holds the Lease until `observedTime + leaseDurationSeconds`, with two
 * differences that only ever make a follower wait longer:
 * - what a follower already counted is never shortened by a later write that keeps the holder (a foreign, shorter
 *   `leaseDurationSeconds`, or none), nor by the Lease being deleted (and re-created empty);
 * - a held record counts at least `ownLeaseDurationMillis` (the follower's own leaseDuration), whatever duration it
 *   names: a candidate that started after a foreign write shortened the duration (or removed it) counted nothing
 *   before it, and the holder may not have seen that write (its watch down), so it leads on until its own deadline,
 *   renewDeadline after its last renew, which only the candidates' common leaseDuration is sure to outlast.
 * The holder itself may still be running until its own deadline: a Go leader notices either event only at its next
 * renew, and its next renew writes its duration back, or re-creates the Lease. An empty holder written to the held
 * Lease (a release) is free at once.
 */
export const judge = (
  current: Seen,
  lease: LeaseObject | undefined,
  now: number,
  ownLeaseDurationMillis: number
): Holding => {
  if (lease === undefined) {
    return current.heldUntil > now
      ? { holder: current.holder, heldUntil: current.heldUntil }
      : { holder: "", heldUntil: 0 }
  }
  const holder = holderOf(lease)
  const until = now + Math.max(recordedMillis(lease), ownLeaseDurationMillis)
  // A release is a write to the held Lease; a new Lease object with no holder (deleted and re-created) is not.
  const recreated = current.lease === undefined || current.lease.metadata.uid !== lease.metadata.uid
  if (holder === "") {
    return recreated && current.heldUntil > now
      ? { holder: current.holder, heldUntil: current.heldUntil }
      : { holder, heldUntil: 0 }
  }
  return { holder, heldUntil: holder === current.holder ? Math.max(current.heldUntil, until) : until }
}

/** Whether a candidate named `identity` must wait: someone else holds the Lease and it has not expired. */
export const heldByAnother = (seen: Holding, identity: string, now: number): boolean =>
  seen.holder !== "" && seen.holder !== identity && now < seen.heldUntil

/** The leader election record proper: a change of anything else (labels, managedFields) is no sign of life. */
export const sameRecord = (a: LeaseObject | undefined, b: LeaseObject | undefined): boolean =>
  (a === undefined) === (b === undefined) &&
  a?.spec?.holderIdentity === b?.spec?.holderIdentity &&
  a?.spec?.leaseDurationSeconds === b?.spec?.leaseDurationSeconds &&
  a?.spec?.acquireTime === b?.spec?.acquireTime && a?.spec?.renewTime === b?.spec?.renewTime &&
  a?.spec?.leaseTransitions === b?.spec?.leaseTransitions

/**
 * A change a wait acts on: of the holder, of the record's duration, of the Lease object itself (gone, re-created). A
 * renew by the same holder (renewTime, acquireTime, transitions) only pushes the expiry later.
 */
export const sameWaitingState = (a: LeaseObject | undefined, b: LeaseObject | undefined): boolean =>
  (a === undefined) === (b === undefined) &&
  (a === undefined || b === undefined ||
    (a.metadata.uid === b.metadata.uid && holderOf(a) === holderOf(b) &&
      a.spec?.leaseDurationSeconds === b.spec?.leaseDurationSeconds))

/**
 * A foreign write that shortened the duration of a record naming `identity`: the leader answers it at once with a
 * renew, which writes its own duration back.
 */
export const shortenedFor = (lease: LeaseObject | undefined, identity: string, leaseDurationMillis: number): boolean =>
  holderOf(lease) === identity && recordedMillis(lease) < leaseDurationMillis

/**
 * The leader's hard deadline: renewDeadline after the start of its last successful renew. Followers count a record's
 * own leaseDurationSeconds from when they saw it: should a foreign write shorten it, the deadline shrinks in
 * proportion (renewDeadline / leaseDuration of what the record now says) until the leader's next renew writes its
 * duration back.
 */
export const leaderDeadline = (
  lastRenewAt: number,
  lease: LeaseObject | undefined,
  renewDeadlineMillis: number,
  leaseDurationMillis: number
): number =>
  lastRenewAt + Math.min(renewDeadlineMillis, recordedMillis(lease) * renewDeadlineMillis / leaseDurationMillis)
