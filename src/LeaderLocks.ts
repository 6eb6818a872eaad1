/**
 * The LeaderLock resource service.
 *
 * @since 0.1.0
 */
import { Context, Layer } from "effect"
import { makeLive } from "./internal/resourceClient.js"
import type { K8sClient } from "./K8sClient.js"
import { type LeaderLock, LeaderLockKind, type ResourceService } from "./resources.js"

/**
 * get, create, replace, delete and watch of `LeaderLock` objects.
 *
 * @since 0.1.0
 */
export class LeaderLocks extends Context.Tag("effect-k8s-leader/LeaderLocks")<LeaderLocks, ResourceService<LeaderLock>>() {
  /**
   * Over the API server of the `K8sClient`.
   *
   * @since 0.1.0
   */
  static readonly live: Layer.Layer<LeaderLocks, never, K8sClient> = Layer.effect(LeaderLocks, makeLive(LeaderLockKind))
}
