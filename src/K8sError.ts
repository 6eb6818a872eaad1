/**
 * The one error type of the Kubernetes API layer.
 *
 * @since 0.1.0
 */
import { Data, Predicate } from "effect"

/**
 * Why a Kubernetes request failed, in the API server's own words where it gave some.
 *
 * @since 0.1.0
 */
export type K8sErrorReason =
  | "NotFound"
  | "AlreadyExists"
  | "Conflict"
  | "Unauthorized"
  | "Forbidden"
  | "Invalid"
  | "Timeout"
  | "Transport"
  | "ServerError"
  | "Decode"

/**
 * The verb of a request, as RBAC names it.
 *
 * @since 0.1.0
 */
export type K8sVerb = "get" | "list" | "watch" | "create" | "update" | "patch" | "delete"

/**
 * What a request was about: used in error messages so that they say what to fix.
 *
 * @since 0.1.0
 */
export interface K8sRequestInfo {
  readonly verb: K8sVerb
  /** The resource's plural name, with its group when not core, e.g. `leases.coordination.k8s.io`. */
  readonly resource: string
  readonly namespace?: string | undefined
  readonly name?: string | undefined
}

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
    const target = [
      this.resource,
      // `name` is the object's, when given; without it Error's own `name` ("K8sError") would show through.
      Object.hasOwn(this, "name") && this.name !== undefined ? `"${this.name}"` : undefined,
      this.namespace !== undefined ? `in namespace "${this.namespace}"` : undefined
    ].filter(Predicate.isNotUndefined).join(" ")
    const status = this.status !== undefined ? ` (HTTP ${this.status})` : ""
    const hint = hints[this.reason]?.(this)
    return `${this.reason}: ${this.verb} ${target}${status}: ${this.detail}${hint ? `. ${hint}` : ""}`
  }
}

const hints: Partial<Record<K8sErrorReason, (error: K8sError) => string>> = {
  Forbidden: (error) =>
    `Grant the verb "${error.verb}" on "${error.resource}"${
      error.namespace !== undefined ? ` in namespace "${error.namespace}"` : ""
    } to this identity (see deploy/rbac/)`,
  Unauthorized: () => "The credentials were refused: check the kubeconfig or the service-account token"
}

/**
 * Errors worth retrying: the same request may succeed later.
 *
 * @since 0.1.0
 */
export const isTransient = (error: K8sError): boolean =>
  error.reason === "Timeout" || error.reason === "Transport" || error.reason === "ServerError" ||
  error.reason === "Conflict"

/**
 * Errors that no retry fixes: the request itself, or the identity's permissions, must change.
 *
 * @since 0.1.0
 */
export const isPermanent = (error: K8sError): boolean =>
  error.reason === "Unauthorized" || error.reason === "Forbidden" || error.reason === "Invalid" ||
  error.reason === "Decode"

/**
 * Maps an HTTP status and the server's `Status` body onto a {@link K8sError}.
 *
 * @since 0.1.0
 */
export const fromResponse = (info: K8sRequestInfo, status: number, body: unknown): K8sError => {
  const statusBody = Predicate.isRecord(body) ? body : {}
  const serverReason = typeof statusBody["reason"] === "string" ? statusBody["reason"] : undefined
  const detail = typeof statusBody["message"] === "string"
    ? statusBody["message"]
    : typeof body === "string" && body.length > 0
    ? body.slice(0, 500)
    : `HTTP ${status}`
  return new K8sError({ ...info, reason: reasonOf(status, serverReason), status, detail })
}

const reasonOf = (status: number, serverReason: string | undefined): K8sErrorReason => {
  switch (status) {
    case 400:
    case 422:
      return "Invalid"
    case 401:
      return "Unauthorized"
    case 403:
      return "Forbidden"
    case 404:
    case 410:
      return "NotFound"
    case 408:
    case 504:
      return "Timeout"
    case 409:
      return serverReason === "AlreadyExists" ? "AlreadyExists" : "Conflict"
    default:
      return status >= 500 || status === 429 ? "ServerError" : "Invalid"
  }
}
