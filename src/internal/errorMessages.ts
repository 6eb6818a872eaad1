/**
 * The messages of the election's typed errors, which say what to fix: written once for both editions, whose error
 * classes (Effect's `Data.TaggedError` of each) return them.
 */

/** `KubeConfigError`: where the kubeconfig was looked for, why it failed, and what to do. */
export const kubeConfigMessage = (error: { readonly source: string; readonly cause: unknown }): string => {
  const reason = error.cause instanceof Error ? error.cause.message : String(error.cause)
  return `Could not load a kubeconfig from ${error.source}: ${reason}. Set KUBECONFIG to a valid file, or run in a ` +
    "Pod with a service account"
}

/** `LeaderElectionConfigError`: the broken rule of the settings. */
export const configMessage = (error: { readonly rule: string; readonly detail: string }): string =>
  `Invalid leader election settings: ${error.detail} (rule: ${error.rule})`

/** `LockUnavailableError`: a finite retry schedule ended while the lock was held. */
export const lockUnavailableMessage = (error: {
  readonly lock: string
  readonly namespace: string
  readonly holder: string | undefined
  readonly lastError?: { readonly message: string } | undefined
}): string =>
  `The retry schedule ended before the lock "${error.lock}" in namespace "${error.namespace}" was free` +
  (error.holder !== undefined ? ` (held by "${error.holder}")` : "") +
  (error.lastError !== undefined ? `; last error: ${error.lastError.message}` : "")
