/**
 * The Lease resource service.
 *
 * @since 0.1.0
 */
import { Context, Layer } from "effect"
import { makeLive } from "./internal/resourceClient.js"
import type { K8sClient } from "./K8sClient.js"
import { type Lease, LeaseKind, type ResourceService } from "./resources.js"

/**
 * get, create, replace, delete and watch of `Lease` objects.
 *
 * @since 0.1.0
 */
export class Leases extends Context.Service<Leases, ResourceService<Lease>>()("effect-k8s-leader/Leases") {
  /**
   * Over the API server of the `K8sClient`.
   *
   * @since 0.1.0
   */
  static readonly live: Layer.Layer<Leases, never, K8sClient> = Layer.effect(Leases, makeLive(LeaseKind))
}
