/**
 * The typed errors that end a leader election.
 *
 * @since 0.1.0
 */
import { Data } from "effect"
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
 * The election's settings break one of its rules; `rule` says which.
 *
 * @since 0.1.0
 */
export class LeaderElectionConfigError extends Data.TaggedError("LeaderElectionConfigError")<{
  readonly rule: string
  readonly detail: string
}> {
  override get message(): string {
    return `Invalid leader election settings: ${this.detail} (rule: ${this.rule})`
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
}> {
  override get message(): string {
    return `The retry schedule ended before the lock "${this.lock}" in namespace "${this.namespace}" was free` +
      (this.holder !== undefined ? ` (held by "${this.holder}")` : "")
  }
}

/**
 * Everything that ends an election with an error: retrying the same way cannot fix any of these.
 *
 * @since 0.1.0
 */
export type LeaderElectionError = ContextInfoError | K8sError | LeaderElectionConfigError | LockUnavailableError
