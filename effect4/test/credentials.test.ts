/**
 * Rotated credentials over the real transport: a local HTTPS server on 127.0.0.1 that requires client certificates
 * (made with openssl for the test), and a kubeconfig whose client certificate and key are files that rotate.
 */
import { describe, expect, it } from "@effect/vitest"
import { KubeConfig } from "@kubernetes/client-node"
import { Context, Effect, Layer } from "effect"
import { execFileSync } from "node:child_process"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as https from "node:https"
import type { AddressInfo } from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { K8sClient } from "../../src/effect4/K8sClient.js"

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "k8s-credentials-"))
const file = (name: string) => path.join(dir, name)
const openssl = (...args: Array<string>) => execFileSync("openssl", args, { cwd: dir, stdio: "pipe" })

openssl(
  "req",
  "-x509",
  "-newkey",
  "rsa:2048",
  "-nodes",
  "-keyout",
  "ca.key",
  "-out",
  "ca.crt",
  "-days",
  "1",
  "-subj",
  "/CN=test-ca"
)
const issue = (name: string, subject: string, extensions?: string) => {
  openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", subject)
  if (extensions !== undefined) fs.writeFileSync(file(`${name}.ext`), extensions)
  openssl(
    "x509",
    "-req",
    "-in",
    `${name}.csr`,
    "-CA",
    "ca.crt",
    "-CAkey",
    "ca.key",
    "-CAcreateserial",
    "-out",
    `${name}.crt`,
    "-days",
    "1",
    ...(extensions !== undefined ? ["-extfile", `${name}.ext`] : [])
  )
}
issue("server", "/CN=127.0.0.1", "subjectAltName=IP:127.0.0.1")
issue("client-a", "/CN=operator-a")
issue("client-b", "/CN=operator-b")

const fingerprint = (name: string) => new crypto.X509Certificate(fs.readFileSync(file(`${name}.crt`))).fingerprint256

/** Answers 200 to the client certificate it currently accepts, 401 to any other; counts what it sees. */
const server = Effect.acquireRelease(
  Effect.callback<{ port: number; accept: { current: string }; seen: Array<string>; close: () => void }>((resume) => {
    const accept = { current: fingerprint("client-a") }
    const seen: Array<string> = []
    const srv = https.createServer({
      key: fs.readFileSync(file("server.key")),
      cert: fs.readFileSync(file("server.crt")),
      ca: fs.readFileSync(file("ca.crt")),
      requestCert: true,
      rejectUnauthorized: false
    }, (req, res) => {
      const presented = (req.socket as import("node:tls").TLSSocket).getPeerCertificate().fingerprint256
      seen.push(presented === fingerprint("client-a") ? "a" : presented === fingerprint("client-b") ? "b" : "?")
      const ok = presented === accept.current
      res.writeHead(ok ? 200 : 401, { "Content-Type": "application/json" })
      res.end(JSON.stringify(ok ? { kind: "Lease" } : { kind: "Status", code: 401, reason: "Unauthorized" }))
    })
    srv.listen(0, "127.0.0.1", () =>
      resume(Effect.succeed({
        port: (srv.address() as AddressInfo).port,
        accept,
        seen,
        close: () => srv.close()
      })))
  }),
  (srv) => Effect.sync(srv.close)
)

const useClientCertificate = (name: string) => {
  fs.copyFileSync(file(`${name}.crt`), file("client.crt"))
  fs.copyFileSync(file(`${name}.key`), file("client.key"))
}

const clientFor = (port: number) =>
  Effect.gen(function*() {
    fs.writeFileSync(
      file("kubeconfig"),
      [
        "apiVersion: v1",
        "kind: Config",
        "clusters: [{ name: local, cluster: { server: \"https://127.0.0.1:" + port + "\", certificate-authority: "
        + file("ca.crt") + " } }]",
        "users: [{ name: operator, user: { client-certificate: " + file("client.crt") + ", client-key: "
        + file("client.key") + " } }]",
        "contexts: [{ name: local, context: { cluster: local, user: operator } }]",
        "current-context: local"
      ].join("\n")
    )
    const kubeConfig = new KubeConfig()
    kubeConfig.loadFromFile(file("kubeconfig"))
    return yield* Layer.build(K8sClient.fromKubeConfig(kubeConfig)).pipe(Effect.map(Context.get(K8sClient)))
  })

const get = (client: K8sClient["Service"]) =>
  client.request({
    method: "GET",
    path: "/apis/coordination.k8s.io/v1/namespaces/ops/leases/x",
    info: { verb: "get", resource: "leases.coordination.k8s.io", namespace: "ops", name: "x" }
  })

describe("K8sClient: rotated credentials", () => {
  it.effect("a rotated client certificate is used at once: the 401 makes the client apply its credentials again", () =>
    Effect.gen(function*() {
      const srv = yield* server
      useClientCertificate("client-a")
      const client = yield* clientFor(srv.port)
      yield* get(client)
      yield* get(client)
      expect(srv.seen).toEqual(["a", "a"])
      // The certificate files rotate (an exec plugin, cert-manager, a mounted Secret), and the server takes only the
      // new one: the kept-alive connection still carries the old certificate.
      useClientCertificate("client-b")
      srv.accept.current = fingerprint("client-b")
      yield* get(client)
      expect(srv.seen).toEqual(["a", "a", "a", "b"])
      yield* get(client)
      expect(srv.seen.at(-1)).toBe("b")
      expect(srv.seen).toHaveLength(5)
    }))

  it.effect("a 401 that persists after the credentials are applied again is Unauthorized, after exactly one retry", () =>
    Effect.gen(function*() {
      const srv = yield* server
      useClientCertificate("client-a")
      const client = yield* clientFor(srv.port)
      srv.accept.current = "nobody"
      const error = yield* Effect.flip(get(client))
      expect(error.reason).toBe("Unauthorized")
      expect(srv.seen).toEqual(["a", "a"])
    }))
})
