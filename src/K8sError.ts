/**
 * The one error type of the Kubernetes API layer.
 *
 * @since 0.1.0
 */
import { Data } from "effect"
import {
  isPermanentReason,
  isTransientReason,
  type K8sErrorReason,
  type K8sRequestInfo,
  messageOf,
  responseFields
} from "./internal/k8sStatus.js"

// The vocabulary, the status mapping and the message are Effect-free, shared with the Effect 4 edition.
export type {
  /** @since 0.1.0 */
  K8sErrorReason,
  /** @since 0.1.0 */
  K8sRequestInfo,
  /** @since 0.1.0 */
  K8sVerb
} from "./internal/k8sStatus.js"

/**
 * A failed Kubernetes request.
 *
 * @since 0.1.0
 */
export class K8sError extends Data.TaggedError("K8sError")<
  K8sRequestInfo & {
    readonly reason: K8sErrorReason
    /** The HTTP status, when the server answered. */
    readonly status?: number | undefined
    /** The server's message (`Status.message`), or the transport's. */
    readonly detail: string
    readonly cause?: unknown
  }
> {
  // The `name` field is the object's, so Error's default `${name}: ${message}` would print the object's name.
  override toString(): string {
    return `K8sError: ${this.message}`
  }

  override get message(): string {
    // `name` is the object's, when given; without it Error's own `name` ("K8sError") would show through.
    return messageOf(this, Object.hasOwn(this, "name") ? this.name : undefined)
  }
}

/**
 * Errors worth retrying: the same request may succeed later.
 *
 * @since 0.1.0
 */
export const isTransient = (error: K8sError): boolean => isTransientReason(error.reason)

/**
 * Errors that no retry fixes: the request itself, or the identity's permissions, must change.
 *
 * @since 0.1.0
 */
export const isPermanent = (error: K8sError): boolean => isPermanentReason(error.reason)

/**
 * Maps an HTTP status and the server's `Status` body onto a {@link K8sError}.
 *
 * @since 0.1.0
 */
export const fromResponse = (info: K8sRequestInfo, status: number, body: unknown): K8sError =>
  new K8sError({ ...info, ...responseFields(status, body) })
