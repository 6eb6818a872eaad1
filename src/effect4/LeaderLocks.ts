/**
 * The LeaderLock resource service, and the custom resource definition it needs.
 *
 * @since 0.1.0
 */
import { Context, Effect, Layer, Predicate, Schedule } from "effect"
import { makeLive } from "./internal/resourceClient.js"
import { K8sClient } from "./K8sClient.js"
import { K8sError } from "./K8sError.js"
import { type LeaderLock, LeaderLockKind, type ResourceService } from "./resources.js"

/**
 * The CustomResourceDefinition of `LeaderLock`, as in `deploy/crds/leaderlocks.effect-k8s-leader.io.yaml`.
 *
 * @since 0.1.0
 */
export const leaderLockDefinition = {
  apiVersion: "apiextensions.k8s.io/v1",
  kind: "CustomResourceDefinition",
  metadata: { name: `${LeaderLockKind.plural}.${LeaderLockKind.group}` },
  spec: {
    group: LeaderLockKind.group,
    scope: "Namespaced",
    names: { kind: "LeaderLock", listKind: "LeaderLockList", plural: "leaderlocks", singular: "leaderlock" },
    versions: [{
      name: "v1",
      served: true,
      storage: true,
      schema: { openAPIV3Schema: { type: "object", properties: { spec: { type: "object" } } } }
    }]
  }
} as const

const crdPath = `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${leaderLockDefinition.metadata.name}`
const crdInfo = {
  resource: "customresourcedefinitions.apiextensions.k8s.io",
  name: leaderLockDefinition.metadata.name
} as const

const isEstablished = (crd: unknown) =>
  Predicate.isObject(crd) && Predicate.isObject(crd["status"]) && Array.isArray(crd["status"]["conditions"]) &&
  crd["status"]["conditions"].some((condition: unknown) =>
    Predicate.isObject(condition) && condition["type"] === "Established" && condition["status"] === "True"
  )

/**
 * get, create, replace, delete and watch of `LeaderLock` objects.
 *
 * @since 0.1.0
 */
export class LeaderLocks
  extends Context.Service<LeaderLocks, ResourceService<LeaderLock>>()("effect-k8s-leader/LeaderLocks")
{
  /**
   * Over the API server of the `K8sClient`.
   *
   * @since 0.1.0
   */
  static readonly live: Layer.Layer<LeaderLocks, never, K8sClient> = Layer.effect(LeaderLocks, makeLive(LeaderLockKind))

  /**
   * Registers the `LeaderLock` CRD when the cluster does not have it, and waits (up to 30 s) until the API server
   * serves it. Needs `get` and `create` on `customresourcedefinitions`: usually a cluster admin installs
   * `deploy/crds/` instead.
   *
   * @since 0.1.0
   */
  static readonly ensureDefinition: Effect.Effect<void, K8sError, K8sClient> = Effect.gen(function*() {
    const client = yield* K8sClient
    const read = client.request({ method: "GET", path: crdPath, info: { ...crdInfo, verb: "get" } })
    const existing = yield* read.pipe(
      Effect.catchIf((error) => error.reason === "NotFound", () =>
        client.request({
          method: "POST",
          path: "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
          body: leaderLockDefinition,
          info: { ...crdInfo, verb: "create" }
        }).pipe(Effect.catchIf((error) => error.reason === "AlreadyExists", () => read)))
    )
    if (isEstablished(existing)) return
    yield* read.pipe(
      Effect.filterOrFail(isEstablished, () =>
        new K8sError({
          ...crdInfo,
          verb: "get",
          reason: "Timeout",
          detail: "the CustomResourceDefinition is not Established yet"
        })),
      Effect.retry({
        schedule: Schedule.spaced("100 millis").pipe(Schedule.upTo({ duration: "30 seconds" })),
        while: (error) => error.reason === "Timeout"
      })
    )
  })
}
