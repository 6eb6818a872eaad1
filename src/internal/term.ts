/**
 * The fencing term of a leadership, with no Effect in it: shared by both editions and by every lock.
 */

/**
 * The fencing term of an acquiring write: its resourceVersion where it is an integer (etcd's revision, which only
 * grows), else `fallback` (see docs/lease.md).
 *
 * @internal
 */
export const termOf = (resourceVersion: string | undefined, fallback: number): number =>
  resourceVersion !== undefined && /^\d+$/.test(resourceVersion) && Number.isSafeInteger(Number(resourceVersion))
    ? Number(resourceVersion)
    : fallback
