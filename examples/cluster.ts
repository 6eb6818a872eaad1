/**
 * What the examples share: where the cluster is (the in-memory one by default, a real one with `--kubeconfig FILE`
 * or `KUBECONFIG`), who this replica is, which lock, and Go-style durations. Not part of the library.
 */
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import { Duration, Layer } from "effect"
import {
  ConfigMaps,
  ContextInfo,
  type ContextInfoError,
  InMemoryCluster,
  K8sClient,
  type KubeConfigError,
  LeaderElection,
  type LeaderElectionConfigError,
  LeaderLocks,
  type LeaseLockOptions,
  Leases,
  Pods
} from "../src/index.js"

/** `parseArgs` options every example takes. */
export const clusterOptions = {
  kubeconfig: { type: "string" },
  namespace: { type: "string" },
  identity: { type: "string" },
  verbose: { type: "boolean", default: false }
} as const

export interface Target {
  /** The in-memory cluster: nothing runs forever, the example demonstrates and exits. */
  readonly inMemory: boolean
  readonly kubeconfig: string | undefined
  readonly namespace: string
  readonly describe: string
  /** The library's resource services, for the in-memory cluster or the real one. */
  readonly resources: Layer.Layer<Pods | ConfigMaps | Leases | LeaderLocks, KubeConfigError>
  /**
   * Who this replica is: `--identity` (with `--namespace`, default `default`) when given or in memory; otherwise
   * `ContextInfo.live` (`POD_NAME`, `POD_NAMESPACE`, the service account's namespace file), as in a Pod.
   */
  readonly context: (fallbackIdentity: string) => Layer.Layer<ContextInfo, ContextInfoError>
}

export const target = (flags: {
  readonly kubeconfig?: string | undefined
  readonly namespace?: string | undefined
  readonly identity?: string | undefined
}): Target => {
  const kubeconfig = flags.kubeconfig ?? process.env["KUBECONFIG"]
  const namespace = flags.namespace ?? process.env["POD_NAMESPACE"] ?? "default"
  const inMemory = kubeconfig === undefined
  const resources: Layer.Layer<Pods | ConfigMaps | Leases | LeaderLocks, KubeConfigError> = inMemory
    ? InMemoryCluster.layer
    : Layer.mergeAll(Pods.live, ConfigMaps.live, Leases.live, LeaderLocks.live).pipe(
      Layer.provide(K8sClient.fromFile(kubeconfig))
    )
  return {
    inMemory,
    kubeconfig,
    namespace,
    describe: inMemory ? "the in-memory cluster" : `the cluster of ${kubeconfig}`,
    resources,
    context: (fallbackIdentity) =>
      flags.identity !== undefined || inMemory || process.env["POD_NAME"] === undefined
        ? ContextInfo.test({ namespace, podName: flags.identity ?? process.env["POD_NAME"] ?? fallbackIdentity })
        : (flags.namespace !== undefined
          ? ContextInfo.liveForcedNamespace(flags.namespace)
          : ContextInfo.live.pipe(Layer.provide(NodeFileSystem.layer)))
  }
}

/** Go-style durations, as client-go's flags take them: "15s", "500ms", "1m"; or anything `Duration.decode` takes. */
export const duration = (text: string): Duration.Duration => {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m)$/.exec(text)
  if (match === null) return Duration.decode(text as Duration.DurationInput)
  const value = Number(match[1])
  return match[2] === "ms"
    ? Duration.millis(value)
    : match[2] === "s"
    ? Duration.seconds(value)
    : Duration.minutes(value)
}

/** The locks the examples and the demo can run on. */
export type LockKind = "configmap" | "leaderlock" | "lease"

export const isLockKind = (text: string): text is LockKind =>
  text === "configmap" || text === "leaderlock" || text === "lease"

/** The `LeaderElection` layer of a lock kind; `leaseOptions` apply to the Lease lock only. */
export const lockLayer = (
  kind: LockKind,
  name: string,
  leaseOptions?: LeaseLockOptions
): Layer.Layer<LeaderElection, LeaderElectionConfigError, ContextInfo | Pods | ConfigMaps | LeaderLocks | Leases> =>
  kind === "configmap"
    ? LeaderElection.configMapLock(name)
    : kind === "leaderlock"
    ? LeaderElection.customLeaderLock(name)
    : LeaderElection.leaseLock(name, leaseOptions)
