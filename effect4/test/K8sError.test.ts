import { describe, expect, it } from "@effect/vitest"
import {
  fromResponse,
  isTransient,
  K8sError,
  type K8sErrorReason,
  type K8sRequestInfo
} from "../../src/effect4/K8sError.js"

const info: K8sRequestInfo = { verb: "create", resource: "configmaps", namespace: "team-a", name: "my-lock" }

const status = (reason: string, message: string) => ({
  kind: "Status",
  apiVersion: "v1",
  status: "Failure",
  reason,
  message
})

describe("K8sError.fromResponse", () => {
  it("409 with reason AlreadyExists is AlreadyExists, any other 409 is Conflict", () => {
    const exists = fromResponse(info, 409, status("AlreadyExists", "configmaps \"my-lock\" already exists"))
    expect(exists.reason).toBe("AlreadyExists")
    expect(exists.status).toBe(409)
    expect(exists.detail).toBe("configmaps \"my-lock\" already exists")
    const conflict = fromResponse(
      { ...info, verb: "update" },
      409,
      status("Conflict", "Operation cannot be fulfilled on configmaps \"my-lock\": the object has been modified")
    )
    expect(conflict.reason).toBe("Conflict")
    expect(fromResponse(info, 409, undefined).reason).toBe("Conflict")
    expect(fromResponse(info, 409, "plain text").reason).toBe("Conflict")
  })

  it("403 is Forbidden and its message names the verb, the resource and the namespace", () => {
    const error = fromResponse(
      { verb: "create", resource: "leaderlocks.effect-k8s-leader.io", namespace: "team-a", name: "my-lock" },
      403,
      status(
        "Forbidden",
        "leaderlocks.effect-k8s-leader.io \"my-lock\" is forbidden: User \"system:serviceaccount:team-a:default\" cannot create resource"
      )
    )
    expect(error).toBeInstanceOf(K8sError)
    expect(error._tag).toBe("K8sError")
    expect(error.reason).toBe("Forbidden")
    expect(error.status).toBe(403)
    expect(error.verb).toBe("create")
    expect(error.resource).toBe("leaderlocks.effect-k8s-leader.io")
    expect(error.message).toContain(
      "Forbidden: create leaderlocks.effect-k8s-leader.io \"my-lock\" in namespace \"team-a\""
    )
    expect(error.message).toContain("(HTTP 403)")
    expect(error.message).toContain("cannot create resource")
    expect(error.message).toContain(
      "Grant the verb \"create\" on \"leaderlocks.effect-k8s-leader.io\" in namespace \"team-a\""
    )
  })

  it("401 is Unauthorized with a hint about credentials", () => {
    const error = fromResponse({ verb: "get", resource: "pods" }, 401, status("Unauthorized", "Unauthorized"))
    expect(error.reason).toBe("Unauthorized")
    expect(error.message).toContain("get pods")
    expect(error.message).toContain("credentials")
  })

  it("404 is NotFound", () => {
    const error = fromResponse({ ...info, verb: "get" }, 404, status("NotFound", "configmaps \"my-lock\" not found"))
    expect(error.reason).toBe("NotFound")
    expect(error.detail).toBe("configmaps \"my-lock\" not found")
  })

  it("400 and 422 are Invalid", () => {
    expect(fromResponse(info, 400, status("BadRequest", "bad")).reason).toBe("Invalid")
    expect(fromResponse(info, 422, status("Invalid", "name: Required value")).reason).toBe("Invalid")
  })

  it("500, 502, 503 and 429 are ServerError; 504 and 408 are Timeout", () => {
    for (const code of [500, 502, 503, 429]) expect(fromResponse(info, code, undefined).reason).toBe("ServerError")
    expect(fromResponse(info, 504, status("Timeout", "timed out")).reason).toBe("Timeout")
    expect(fromResponse(info, 408, undefined).reason).toBe("Timeout")
  })

  it("takes the detail from the Status message, else from a text body, else the HTTP status", () => {
    expect(fromResponse(info, 500, status("InternalError", "etcd down")).detail).toBe("etcd down")
    expect(fromResponse(info, 500, "upstream connect error").detail).toBe("upstream connect error")
    expect(fromResponse(info, 500, "x".repeat(2000)).detail.length).toBe(500)
    expect(fromResponse(info, 503, undefined).detail).toBe("HTTP 503")
    expect(fromResponse(info, 503, "").detail).toBe("HTTP 503")
  })
})

describe("K8sError.isTransient", () => {
  const make = (reason: K8sErrorReason) => new K8sError({ verb: "get", resource: "configmaps", reason, detail: "x" })

  it("Timeout, Transport, ServerError and Conflict are worth retrying", () => {
    for (const reason of ["Timeout", "Transport", "ServerError", "Conflict"] as const) {
      expect(isTransient(make(reason))).toBe(true)
    }
  })

  it("Unauthorized, Forbidden, Invalid, NotFound, AlreadyExists and Decode are not", () => {
    for (const reason of ["Unauthorized", "Forbidden", "Invalid", "NotFound", "AlreadyExists", "Decode"] as const) {
      expect(isTransient(make(reason))).toBe(false)
    }
  })
})

describe("K8sError message without an object name", () => {
  it("names no object rather than the error class", () => {
    const error = new K8sError({
      verb: "create",
      resource: "leases",
      namespace: "ns",
      reason: "Forbidden",
      detail: "no"
    })
    expect(error.message).not.toContain("K8sError")
    expect(error.message).toContain("create leases in namespace \"ns\"")
  })
})

describe("K8sError as a string", () => {
  it("starts with the error's kind, not the object's name", () => {
    const error = new K8sError({ ...info, reason: "Forbidden", detail: "no" })
    expect(String(error)).toBe(`K8sError: ${error.message}`)
  })
})
