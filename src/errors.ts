/**
 * The typed errors that end a leader election.
 *
 * @since 0.1.0
 */
import { Data, Duration } from "effect"
import { configMessage, kubeConfigMessage, lockUnavailableMessage } from "./internal/errorMessages.js"
import type { K8sError } from "./K8sError.js"

/**
 * This replica could not tell who it is: a missing `POD_NAME`, no namespace, or a `POD_NAME` that names no Pod.
 *
 * @since 0.1.0
 */
export class ContextInfoError extends Data.TaggedError("ContextInfoError")<{
  readonly missing: "POD_NAME" | "namespace" | "pod"
  readonly detail: string
  readonly cause?: unknown
}> {
  override get message(): string {
    return this.detail
  }
}

/**
 * The kubeconfig could not be loaded or names no cluster.
 *
 * @since 0.1.0
 */
export class KubeConfigError extends Data.TaggedError("KubeConfigError")<{
  /** Where it was loaded from. */
  readonly source: string
  readonly cause: unknown
}> {
  override get message(): string {
    return kubeConfigMessage(this)
  }
}

/**
 * The election's settings break one of its rules; `rule` says which.
 *
 * @since 0.1.0
 */
export class LeaderElectionConfigError extends Data.TaggedError("LeaderElectionConfigError")<{
  readonly rule: string
  readonly detail: string
}> {
  override get message(): string {
    return configMessage(this)
  }
}

/**
 * A finite retry schedule given in the options ran out while another replica still held the lock.
 *
 * @since 0.1.0
 */
export class LockUnavailableError extends Data.TaggedError("LockUnavailableError")<{
  readonly lock: string
  readonly namespace: string
  readonly holder: string | undefined
  /** The failure the schedule was retrying when it ended, if any (e.g. reading this replica's own Pod). */
  readonly lastError?: K8sError | undefined
}> {
  override get message(): string {
    return lockUnavailableMessage(this)
  }
}

/**
 * The health check failed: this replica believes it leads a Lease it has not renewed for longer than
 * `leaseDuration + timeout`, so other candidates may lead already.
 *
 * @since 0.1.0
 */
export class LeaderUnhealthyError extends Data.TaggedError("LeaderUnhealthyError")<{
  /** Milliseconds since the start of the last successful renew. */
  readonly sinceRenewMillis: number
  readonly leaseDuration: Duration.Duration
  readonly timeout: Duration.Duration
}> {
  override get message(): string {
    return `failed election to renew leadership: believes it leads, but the last successful renew started ${
      (this.sinceRenewMillis / 1000).toFixed(3)
    } s ago, more than leaseDuration ${Duration.format(this.leaseDuration)} + timeout ${Duration.format(this.timeout)}`
  }
}

/**
 * Everything that ends an election with an error: retrying the same way cannot fix any of these.
 *
 * @since 0.1.0
 */
export type LeaderElectionError = ContextInfoError | K8sError | LeaderElectionConfigError | LockUnavailableError
