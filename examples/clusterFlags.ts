/**
 * What the examples of both editions share and what does not depend on Effect: the flags saying where the cluster is
 * (the in-memory one by default, a real one with `--kubeconfig FILE` or `KUBECONFIG`) and who this replica is, how
 * they resolve, the lock kinds, and Go-style durations. examples/cluster.ts (Effect 3) and
 * effect4/examples/cluster.ts (Effect 4) turn them into layers. Not part of the library.
 */

/** `parseArgs` options every example takes. */
export const clusterOptions = {
  kubeconfig: { type: "string" },
  namespace: { type: "string" },
  identity: { type: "string" },
  verbose: { type: "boolean", default: false }
} as const

export interface ClusterFlags {
  readonly kubeconfig?: string | undefined
  readonly namespace?: string | undefined
  readonly identity?: string | undefined
}

/** Where this replica's identity comes from; each edition's `ContextInfo` layer of the same name provides it. */
export type ContextSource =
  /** `ContextInfo.test`: a fixed namespace and Pod name. */
  | { readonly _tag: "Fixed"; readonly namespace: string; readonly podName: string }
  /** `ContextInfo.liveForcedNamespace`: `POD_NAME`, in the namespace given. */
  | { readonly _tag: "ForcedNamespace"; readonly namespace: string }
  /** `ContextInfo.live`: `POD_NAME`, `POD_NAMESPACE`, the service account's namespace file, as in a Pod. */
  | { readonly _tag: "Live" }

export interface ClusterTarget {
  /** The in-memory cluster: nothing runs forever, the example demonstrates and exits. */
  readonly inMemory: boolean
  /** The kubeconfig file of a real cluster; `undefined` for the in-memory one. */
  readonly kubeconfig: string | undefined
  readonly namespace: string
  readonly describe: string
  /**
   * Who this replica is: `--identity` (with `--namespace`, default `default`) when given or in memory; otherwise
   * the Pod's own (`POD_NAME`, `POD_NAMESPACE`, the service account's namespace file).
   */
  readonly contextSource: (fallbackIdentity: string) => ContextSource
}

export const clusterTarget = (flags: ClusterFlags): ClusterTarget => {
  const kubeconfig = flags.kubeconfig ?? process.env["KUBECONFIG"]
  const namespace = flags.namespace ?? process.env["POD_NAMESPACE"] ?? "default"
  const inMemory = kubeconfig === undefined
  return {
    inMemory,
    kubeconfig,
    namespace,
    describe: inMemory ? "the in-memory cluster" : `the cluster of ${kubeconfig}`,
    contextSource: (fallbackIdentity) =>
      flags.identity !== undefined || inMemory || process.env["POD_NAME"] === undefined
        ? { _tag: "Fixed", namespace, podName: flags.identity ?? process.env["POD_NAME"] ?? fallbackIdentity }
        : flags.namespace !== undefined
        ? { _tag: "ForcedNamespace", namespace: flags.namespace }
        : { _tag: "Live" }
  }
}

/**
 * Go-style durations, as client-go's flags take them: "15s", "500ms", "1m", in milliseconds; `undefined` for any other
 * text (each edition's `duration` then lets Effect's `Duration` read it).
 */
export const goDurationMillis = (text: string): number | undefined => {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m)$/.exec(text)
  if (match === null) return undefined
  const value = Number(match[1])
  return match[2] === "ms" ? value : match[2] === "s" ? value * 1000 : value * 60_000
}

/** The locks the examples and the demo can run on. */
export type LockKind = "configmap" | "leaderlock" | "lease"

export const isLockKind = (text: string): text is LockKind =>
  text === "configmap" || text === "leaderlock" || text === "lease"
