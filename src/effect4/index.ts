/**
 * @since 0.1.0
 */
export * from "./ConfigMaps.js"
export * from "./ContextInfo.js"
export * from "./errors.js"
export * as HealthCheck from "./HealthCheck.js"
export * from "./InMemoryCluster.js"
export * from "./K8sClient.js"
export * from "./K8sError.js"
export * from "./LeaderElection.js"
export * from "./LeaderLocks.js"
export * from "./Leases.js"
export * from "./Pods.js"
export * from "./resources.js"
