/**
 * The Pod resource service.
 *
 * @since 0.1.0
 */
import { Context, Layer } from "effect"
import { makeLive } from "./internal/resourceClient.js"
import type { K8sClient } from "./K8sClient.js"
import { type Pod, PodKind, type ResourceService } from "./resources.js"

/**
 * get, create, replace, delete and watch of `Pod` objects.
 *
 * @since 0.1.0
 */
export class Pods extends Context.Service<Pods, ResourceService<Pod>>()("effect-k8s-leader/Pods") {
  /**
   * Over the API server of the `K8sClient`.
   *
   * @since 0.1.0
   */
  static readonly live: Layer.Layer<Pods, never, K8sClient> = Layer.effect(Pods, makeLive(PodKind))
}
