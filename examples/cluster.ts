/**
 * What the examples share, as Effect 3 layers: the library's resource services for the cluster the flags name (the
 * in-memory one by default, a real one with `--kubeconfig FILE` or `KUBECONFIG`), who this replica is, which lock,
 * and Go-style durations. The Effect-free part (flags, resolution, lock kinds) is examples/clusterFlags.ts, shared
 * with the Effect 4 examples. Not part of the library.
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
import {
  type ClusterFlags,
  type ClusterTarget,
  clusterTarget,
  goDurationMillis,
  type LockKind
} from "./clusterFlags.js"

export { clusterOptions, isLockKind, type LockKind } from "./clusterFlags.js"

export interface Target extends ClusterTarget {
  /** The library's resource services, for the in-memory cluster or the real one. */
  readonly resources: Layer.Layer<Pods | ConfigMaps | Leases | LeaderLocks, KubeConfigError>
  /**
   * Who this replica is: `--identity` (with `--namespace`, default `default`) when given or in memory; otherwise
   * `ContextInfo.live` (`POD_NAME`, `POD_NAMESPACE`, the service account's namespace file), as in a Pod.
   */
  readonly context: (fallbackIdentity: string) => Layer.Layer<ContextInfo, ContextInfoError>
}

export const target = (flags: ClusterFlags): Target => {
  const cluster = clusterTarget(flags)
  const resources: Layer.Layer<Pods | ConfigMaps | Leases | LeaderLocks, KubeConfigError> =
    cluster.kubeconfig === undefined
      ? InMemoryCluster.layer
      : Layer.mergeAll(Pods.live, ConfigMaps.live, Leases.live, LeaderLocks.live).pipe(
        Layer.provide(K8sClient.fromFile(cluster.kubeconfig))
      )
  return {
    ...cluster,
    resources,
    context: (fallbackIdentity) => {
      const source = cluster.contextSource(fallbackIdentity)
      switch (source._tag) {
        case "Fixed":
          return ContextInfo.test({ namespace: source.namespace, podName: source.podName })
        case "ForcedNamespace":
          return ContextInfo.liveForcedNamespace(source.namespace)
        case "Live":
          return ContextInfo.live.pipe(Layer.provide(NodeFileSystem.layer))
      }
    }
  }
}

/** Go-style durations, as client-go's flags take them: "15s", "500ms", "1m"; or anything `Duration.decode` takes. */
export const duration = (text: string): Duration.Duration => {
  const millis = goDurationMillis(text)
  return millis === undefined ? Duration.decode(text as Duration.DurationInput) : Duration.millis(millis)
}

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
