/**
 * The leader-for-life lock's pure decisions, with no Effect in them, shared by both editions: who owns a lock
 * object, its marks (re-entered, released), and whether a change of the lock ends a leadership.
 */

/** An ownerReference, as both editions' `OwnerReference` type holds it. */
export interface OwnerRef {
  readonly apiVersion: string
  readonly kind: string
  readonly name: string
  readonly uid: string
}

/** What the decisions read of a lock object. */
export interface LockObject<R extends OwnerRef = OwnerRef> {
  readonly metadata: {
    readonly uid?: string | undefined
    readonly deletionTimestamp?: string | undefined
    readonly annotations?: { readonly [key: string]: string } | undefined
    readonly ownerReferences?: ReadonlyArray<R> | undefined
  }
}

/** Marks a lock re-entered by its owner Pod with a write of ours, so that the new leadership gets a greater term. */
export const reenteredAnnotation = "effect-k8s-leader.io/reentered-at"

/**
 * Marks a lock its leader is about to delete on release: a follower takes a released lock at once, while it gives the
 * holder of a lock deleted by someone else a grace period to notice.
 */
export const releasedAnnotation = "effect-k8s-leader.io/released-at"

/** The Pod that owns the lock (its holder), if a Pod does. */
export const podOwner = <R extends OwnerRef>(object: LockObject<R>): R | undefined =>
  object.metadata.ownerReferences?.find((ref) => ref.kind === "Pod" && ref.apiVersion === "v1")

/** Whether its leader marked the lock released: the delete follows. */
export const isReleased = (object: LockObject): boolean =>
  object.metadata.annotations?.[releasedAnnotation] !== undefined

/** The annotations of a lock re-entered at `at` (ISO time): a release mark left by a process of this Pod is void. */
export const reenteredAnnotations = (
  annotations: { readonly [key: string]: string } | undefined,
  at: string
): { readonly [key: string]: string } => {
  const { [releasedAnnotation]: _released, ...rest } = annotations ?? {}
  return { ...rest, [reenteredAnnotation]: at }
}

/** The annotations of a lock marked released at `at` (ISO time). */
export const releasedAnnotations = (
  annotations: { readonly [key: string]: string } | undefined,
  at: string
): { readonly [key: string]: string } => ({ ...annotations, [releasedAnnotation]: at })

/** Whether `current` is still the lock `held`: the same object, owned by the same Pod. */
export const stillHeld = (current: LockObject, held: LockObject): boolean =>
  current.metadata.uid === held.metadata.uid && podOwner(current)?.uid === podOwner(held)?.uid

/**
 * Why a leader for life lost the lock `held`, now that it is `current` (`undefined`: gone); `undefined` while it still
 * leads. Only the lock going, being replaced, changing owner or being deleted ends it.
 */
export const lossReason = (held: LockObject, current: LockObject | undefined): string | undefined =>
  current === undefined
    ? "the lock was deleted"
    : current.metadata.uid !== held.metadata.uid
    ? "the lock was replaced by another object"
    : podOwner(current)?.uid !== podOwner(held)?.uid
    ? `the lock's owner is now ${podOwner(current)?.name ?? "not a Pod"}`
    : current.metadata.deletionTimestamp !== undefined
    ? "the lock is being deleted"
    : undefined
