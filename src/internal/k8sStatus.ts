/**
 * What does not depend on Effect in a `K8sError`, shared by both editions: the vocabulary of a failed request, the
 * mapping of an HTTP status and the server's `Status` body onto a reason, the message, and which reasons are worth
 * retrying. Each edition's `K8sError.ts` re-exports the types and builds its error class on these.
 */

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

/** The fields of a `K8sError` that its message is made of. */
export interface K8sErrorFields {
  readonly verb: K8sVerb
  readonly resource: string
  readonly namespace?: string | undefined
  readonly reason: K8sErrorReason
  readonly status?: number | undefined
  readonly detail: string
}

const isRecord = (value: unknown): value is Readonly<Record<string, unknown>> =>
  typeof value === "object" && value !== null && !Array.isArray(value)

/** The reason and detail of an HTTP `status` answered with `body` (a `Status` object, a text, or nothing). */
export const responseFields = (
  status: number,
  body: unknown
): { readonly reason: K8sErrorReason; readonly status: number; readonly detail: string } => {
  const statusBody = isRecord(body) ? body : {}
  const serverReason = typeof statusBody["reason"] === "string" ? statusBody["reason"] : undefined
  const detail = typeof statusBody["message"] === "string"
    ? statusBody["message"]
    : typeof body === "string" && body.length > 0
    ? body.slice(0, 500)
    : `HTTP ${status}`
  return { reason: reasonOf(status, serverReason), status, detail }
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

const hints: Partial<Record<K8sErrorReason, (error: K8sErrorFields) => string>> = {
  Forbidden: (error) =>
    `Grant the verb "${error.verb}" on "${error.resource}"${
      error.namespace !== undefined ? ` in namespace "${error.namespace}"` : ""
    } to this identity (see deploy/rbac/)`,
  Unauthorized: () => "The credentials were refused: check the kubeconfig or the service-account token"
}

/**
 * The message of a `K8sError`: reason, verb, target, HTTP status, the server's detail and a hint of what to fix.
 * `objectName` is the object's name, when the error has one.
 */
export const messageOf = (error: K8sErrorFields, objectName: string | undefined): string => {
  const target = [
    error.resource,
    objectName !== undefined ? `"${objectName}"` : undefined,
    error.namespace !== undefined ? `in namespace "${error.namespace}"` : undefined
  ].filter((part) => part !== undefined).join(" ")
  const status = error.status !== undefined ? ` (HTTP ${error.status})` : ""
  const hint = hints[error.reason]?.(error)
  return `${error.reason}: ${error.verb} ${target}${status}: ${error.detail}${hint ? `. ${hint}` : ""}`
}

/** Reasons worth retrying: the same request may succeed later. */
export const isTransientReason = (reason: K8sErrorReason): boolean =>
  reason === "Timeout" || reason === "Transport" || reason === "ServerError" || reason === "Conflict"

/** Reasons that no retry fixes: the request itself, or the identity's permissions, must change. */
export const isPermanentReason = (reason: K8sErrorReason): boolean =>
  reason === "Unauthorized" || reason === "Forbidden" || reason === "Invalid" || reason === "Decode"
