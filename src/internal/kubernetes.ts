/**
 * What both editions' `resources` modules say about Kubernetes objects without Effect: the MicroTime format, Pod
 * phases, the options of a delete and a watch, a watch event, and where a resource type lives on the API server.
 * Each edition's `resources.ts` re-exports these beside its Schemas.
 */

/**
 * A change seen by a watch.
 *
 * @since 0.1.0
 */
export interface WatchEvent<T> {
  readonly type: "ADDED" | "MODIFIED" | "DELETED"
  readonly object: T
}

/**
 * Formats epoch milliseconds as a Kubernetes MicroTime: `2026-11-27T10:12:48.720000Z`. The API server refuses
 * any other number of fractional digits.
 *
 * @since 0.1.0
 */
export const formatMicroTime = (epochMillis: number): string =>
  new Date(epochMillis).toISOString().replace(/Z$/, "000Z")

/**
 * Pod phases after which a Pod never runs again.
 *
 * @since 0.1.0
 */
export const isTerminated = (pod: { readonly status?: { readonly phase?: string | undefined } | undefined }): boolean =>
  pod.status?.phase === "Failed" || pod.status?.phase === "Succeeded"

/**
 * Options of a delete: it only goes through when the object still has this uid and resourceVersion.
 *
 * @since 0.1.0
 */
export interface DeleteOptions {
  readonly preconditions?: {
    readonly uid?: string | undefined
    readonly resourceVersion?: string | undefined
  } | undefined
}

/**
 * Options of a watch.
 *
 * @since 0.1.0
 */
export interface WatchOptions {
  /**
   * Start after this resourceVersion: every change after it is delivered. Without it the watch starts with an
   * `ADDED` event for the object as it is now, if it exists.
   */
  readonly resourceVersion?: string | undefined
}

/**
 * Where a resource type lives on the API server.
 *
 * @since 0.1.0
 */
export interface ResourceCoordinates {
  /** The API group; `""` for the core group. */
  readonly group: string
  readonly version: string
  readonly kind: string
  readonly plural: string
}

/**
 * `v1`, or `group/version`.
 *
 * @since 0.1.0
 */
export const apiVersionOf = (kind: ResourceCoordinates): string =>
  kind.group === "" ? kind.version : `${kind.group}/${kind.version}`

/**
 * The resource as RBAC and error messages name it: `configmaps`, `leases.coordination.k8s.io`.
 *
 * @since 0.1.0
 */
export const resourceNameOf = (kind: ResourceCoordinates): string =>
  kind.group === "" ? kind.plural : `${kind.plural}.${kind.group}`

/** The four resource types of the locks. */
export const coordinates = {
  pod: { group: "", version: "v1", kind: "Pod", plural: "pods" },
  configMap: { group: "", version: "v1", kind: "ConfigMap", plural: "configmaps" },
  lease: { group: "coordination.k8s.io", version: "v1", kind: "Lease", plural: "leases" },
  leaderLock: { group: "effect-k8s-leader.io", version: "v1", kind: "LeaderLock", plural: "leaderlocks" }
} as const satisfies Record<string, ResourceCoordinates>
