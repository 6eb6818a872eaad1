/**
 * The Kubernetes objects the locks work with, as plain Schema-defined objects.
 *
 * Decoding keeps fields this library does not know (`onExcessProperty: "preserve"`), so an object read
 * and written back loses nothing another writer put there.
 *
 * @since 0.1.0
 */
import { type Effect, Schema, type Stream } from "effect"
import { coordinates, type ResourceCoordinates } from "./internal/kubernetes.js"
import type { DeleteOptions, WatchEvent, WatchOptions } from "./internal/kubernetes.js"
import type { K8sError } from "./K8sError.js"

export { apiVersionOf, formatMicroTime, isTerminated, resourceNameOf } from "./internal/kubernetes.js"
export type { DeleteOptions, ResourceCoordinates, WatchEvent, WatchOptions } from "./internal/kubernetes.js"

/**
 * @since 0.1.0
 */
export const OwnerReference = Schema.Struct({
  apiVersion: Schema.String,
  kind: Schema.String,
  name: Schema.String,
  uid: Schema.String,
  controller: Schema.optional(Schema.Boolean),
  blockOwnerDeletion: Schema.optional(Schema.Boolean)
})
/**
 * @since 0.1.0
 */
export interface OwnerReference extends Schema.Schema.Type<typeof OwnerReference> {}

/**
 * @since 0.1.0
 */
export const ObjectMeta = Schema.Struct({
  name: Schema.String,
  namespace: Schema.String,
  uid: Schema.optional(Schema.String),
  resourceVersion: Schema.optional(Schema.String),
  generation: Schema.optional(Schema.Number),
  creationTimestamp: Schema.optional(Schema.String),
  deletionTimestamp: Schema.optional(Schema.String),
  finalizers: Schema.optional(Schema.Array(Schema.String)),
  labels: Schema.optional(Schema.Record({ key: Schema.String, value: Schema.String })),
  annotations: Schema.optional(Schema.Record({ key: Schema.String, value: Schema.String })),
  ownerReferences: Schema.optional(Schema.Array(OwnerReference))
})
/**
 * @since 0.1.0
 */
export interface ObjectMeta extends Schema.Schema.Type<typeof ObjectMeta> {}

/**
 * @since 0.1.0
 */
export const Pod = Schema.Struct({
  apiVersion: Schema.optional(Schema.String),
  kind: Schema.optional(Schema.String),
  metadata: ObjectMeta,
  spec: Schema.optional(Schema.Record({ key: Schema.String, value: Schema.Unknown })),
  status: Schema.optional(Schema.Struct({
    phase: Schema.optional(Schema.String),
    reason: Schema.optional(Schema.String),
    message: Schema.optional(Schema.String)
  }))
})
/**
 * @since 0.1.0
 */
export interface Pod extends Schema.Schema.Type<typeof Pod> {}

/**
 * @since 0.1.0
 */
export const ConfigMap = Schema.Struct({
  apiVersion: Schema.optional(Schema.String),
  kind: Schema.optional(Schema.String),
  metadata: ObjectMeta,
  data: Schema.optional(Schema.Record({ key: Schema.String, value: Schema.String }))
})
/**
 * @since 0.1.0
 */
export interface ConfigMap extends Schema.Schema.Type<typeof ConfigMap> {}

/**
 * A `coordination.k8s.io/v1` Lease. `acquireTime` and `renewTime` are MicroTime strings (RFC 3339 with
 * exactly six fractional digits); see {@link formatMicroTime}.
 *
 * @since 0.1.0
 */
export const Lease = Schema.Struct({
  apiVersion: Schema.optional(Schema.String),
  kind: Schema.optional(Schema.String),
  metadata: ObjectMeta,
  spec: Schema.optional(Schema.Struct({
    holderIdentity: Schema.optional(Schema.NullOr(Schema.String)),
    leaseDurationSeconds: Schema.optional(Schema.NullOr(Schema.Number)),
    acquireTime: Schema.optional(Schema.NullOr(Schema.String)),
    renewTime: Schema.optional(Schema.NullOr(Schema.String)),
    leaseTransitions: Schema.optional(Schema.NullOr(Schema.Number)),
    strategy: Schema.optional(Schema.NullOr(Schema.String)),
    preferredHolder: Schema.optional(Schema.NullOr(Schema.String))
  }))
})
/**
 * @since 0.1.0
 */
export interface Lease extends Schema.Schema.Type<typeof Lease> {}

/**
 * The custom resource `LeaderLock` (`leaderlocks.effect-k8s-leader.io/v1`): a lock with an empty spec, for
 * clusters where granting access to every ConfigMap of a namespace is undesirable.
 *
 * @since 0.1.0
 */
export const LeaderLock = Schema.Struct({
  apiVersion: Schema.optional(Schema.String),
  kind: Schema.optional(Schema.String),
  metadata: ObjectMeta,
  spec: Schema.optional(Schema.Record({ key: Schema.String, value: Schema.Unknown }))
})
/**
 * @since 0.1.0
 */
export interface LeaderLock extends Schema.Schema.Type<typeof LeaderLock> {}

/**
 * Any namespaced object with metadata.
 *
 * @since 0.1.0
 */
export interface KubernetesObject {
  readonly apiVersion?: string | undefined
  readonly kind?: string | undefined
  readonly metadata: ObjectMeta
}

/**
 * The operations the locks need on one namespaced resource type. `Pods`, `ConfigMaps`, `Leases` and
 * `LeaderLocks` all provide this shape, live or in memory.
 *
 * @since 0.1.0
 */
export interface ResourceService<T extends KubernetesObject> {
  readonly get: (name: string, namespace: string) => Effect.Effect<T, K8sError>
  readonly create: (object: T) => Effect.Effect<T, K8sError>
  /** An optimistic update: fails with `Conflict` unless `metadata.resourceVersion` is the current one. */
  readonly replace: (object: T) => Effect.Effect<T, K8sError>
  readonly delete: (name: string, namespace: string, options?: DeleteOptions) => Effect.Effect<void, K8sError>
  /** Changes of the one object with this name. Ends when the server ends the watch. */
  readonly watch: (
    name: string,
    namespace: string,
    options?: WatchOptions
  ) => Stream.Stream<WatchEvent<T>, K8sError>
}

/**
 * What identifies a resource type on the API server, and the Schema of its objects.
 *
 * @since 0.1.0
 */
export interface ResourceKind<T extends KubernetesObject> extends ResourceCoordinates {
  readonly schema: Schema.Schema<T, any>
}

/** @since 0.1.0 */
export const PodKind: ResourceKind<Pod> = { ...coordinates.pod, schema: Pod }
/** @since 0.1.0 */
export const ConfigMapKind: ResourceKind<ConfigMap> = { ...coordinates.configMap, schema: ConfigMap }
/** @since 0.1.0 */
export const LeaseKind: ResourceKind<Lease> = { ...coordinates.lease, schema: Lease }
/** @since 0.1.0 */
export const LeaderLockKind: ResourceKind<LeaderLock> = { ...coordinates.leaderLock, schema: LeaderLock }
