/**
 * The ConfigMap resource service.
 *
 * @since 0.1.0
 */
import { Context, Layer } from "effect"
import { makeLive } from "./internal/resourceClient.js"
import type { K8sClient } from "./K8sClient.js"
import { type ConfigMap, ConfigMapKind, type ResourceService } from "./resources.js"

/**
 * get, create, replace, delete and watch of `ConfigMap` objects.
 *
 * @since 0.1.0
 */
export class ConfigMaps
  extends Context.Service<ConfigMaps, ResourceService<ConfigMap>>()("effect-k8s-leader/ConfigMaps")
{
  /**
   * Over the API server of the `K8sClient`.
   *
   * @since 0.1.0
   */
  static readonly live: Layer.Layer<ConfigMaps, never, K8sClient> = Layer.effect(ConfigMaps, makeLive(ConfigMapKind))
}
