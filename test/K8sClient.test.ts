/**
 * The real HTTP transport (`K8sClient.fromKubeConfig` + `Leases.live`) against a local `node:http` server on
 * 127.0.0.1: real sockets, so these tests run on the live clock and keep every wait short.
 */
import { describe, expect, it } from "@effect/vitest"
import { KubeConfig } from "@kubernetes/client-node"
import { Chunk, Context, Deferred, Duration, Effect, Either, Exit, Fiber, Layer, Option, Stream } from "effect"
import * as fs from "node:fs"
import * as http from "node:http"
import * as net from "node:net"
import type { AddressInfo } from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import {
  ContextInfo,
  K8sClient,
  type K8sClientOptions,
  K8sError,
  KubeConfigError,
  LeaderElection,
  type Lease,
  Leases
} from "../src/index.js"
import { makeTransport } from "../src/internal/http.js"
import type { ConnectionSource } from "../src/internal/kubeConfig.js"

const ns = "ops"
const leasePath = `/apis/coordination.k8s.io/v1/namespaces/${ns}/leases`

interface Seen {
  readonly method: string
  readonly url: string
  readonly body: string
}

/**
 * A local API server answering with `handler`; every request it receives is in `requests`, and `closed` completes
 * when the n-th request's socket closes (the client aborted it or the response ended).
 */
const server = (handler: (req: http.IncomingMessage, res: http.ServerResponse, body: string) => void) =>
  Effect.gen(function*() {
    const requests: Array<Seen> = []
    const closes: Array<Deferred.Deferred<void>> = yield* Effect.forEach(
      [0, 1, 2, 3, 4, 5, 6, 7],
      () => Deferred.make<void>()
    )
    const open = new Set<http.ServerResponse>()
    const srv = http.createServer((req, res) => {
      const index = requests.length
      const chunks: Array<Buffer> = []
      req.on("data", (chunk: Buffer) => chunks.push(chunk))
      req.on("end", () => {
        const body = Buffer.concat(chunks).toString("utf8")
        requests.push({ method: req.method ?? "", url: req.url ?? "", body })
        handler(req, res, body)
      })
      open.add(res)
      // The request's socket closing is what an abort looks like from the server.
      res.on("close", () => {
        open.delete(res)
        if (index < closes.length) Deferred.unsafeDone(closes[index]!, Exit.void)
      })
    })
    const port = yield* Effect.async<number>((resume) => {
      srv.listen(0, "127.0.0.1", () => resume(Effect.succeed((srv.address() as AddressInfo).port)))
    })
    yield* Effect.addFinalizer(() =>
      Effect.async<void>((resume) => {
        for (const res of open) res.destroy()
        srv.closeAllConnections()
        srv.close(() => resume(Effect.void))
      })
    )
    return { port, requests, closed: (n: number) => Deferred.await(closes[n]!) }
  })

const kubeConfigFor = (port: number) => {
  const kubeConfig = new KubeConfig()
  kubeConfig.loadFromOptions({
    clusters: [{ name: "local", server: `http://127.0.0.1:${port}`, skipTLSVerify: true }],
    users: [{ name: "tester", token: "secret-token" }],
    contexts: [{ name: "local", cluster: "local", user: "tester", namespace: ns }],
    currentContext: "local"
  })
  return kubeConfig
}

const leasesFor = (port: number, options?: K8sClientOptions) =>
  Effect.provide(Leases, Leases.live.pipe(Layer.provide(K8sClient.fromKubeConfig(kubeConfigFor(port), options))))

/** The elapsed live time of `effect`, in milliseconds. */
const timed = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const start = Date.now()
    const result = yield* effect
    return [result, Date.now() - start] as const
  })

const sampleLease = (holder: string, resourceVersion: string): Lease => ({
  apiVersion: "coordination.k8s.io/v1",
  kind: "Lease",
  metadata: { name: "lock", namespace: ns, uid: "u-1", resourceVersion },
  spec: { holderIdentity: holder, leaseDurationSeconds: 15, leaseTransitions: 0 }
})

describe("K8sClient (real HTTP transport)", () => {
  it.live("a request through Leases.live is aborted at the client's requestTimeout; the server sees it close", () =>
    Effect.scoped(Effect.gen(function*() {
      const local = yield* server(() => {/* never answers */})
      const leases = yield* leasesFor(local.port, { requestTimeout: "200 millis" })
      const [result, elapsed] = yield* timed(Effect.either(leases.get("lock", ns)))
      expect(Either.isLeft(result)).toBe(true)
      const error = Either.getLeft(result).pipe(Option.getOrThrow)
      expect(error).toBeInstanceOf(K8sError)
      expect(error.reason).toBe("Timeout")
      expect(error.verb).toBe("get")
      expect(error.resource).toBe("leases.coordination.k8s.io")
      expect(elapsed).toBeGreaterThanOrEqual(190)
      expect(elapsed).toBeLessThan(2_000)
      yield* local.closed(0)
      expect(local.requests).toEqual([{ method: "GET", url: `${leasePath}/lock`, body: "" }])
    })))

  it.live("a request interrupted by an outer timeout is aborted; the server sees the socket close", () =>
    Effect.scoped(Effect.gen(function*() {
      const local = yield* server(() => {/* never answers */})
      const leases = yield* leasesFor(local.port)
      const result = yield* leases.replace(sampleLease("a", "7")).pipe(Effect.timeout("200 millis"), Effect.either)
      expect(Either.isLeft(result)).toBe(true)
      yield* local.closed(0)
      expect(local.requests[0]?.method).toBe("PUT")
      expect(JSON.parse(local.requests[0]!.body)).toMatchObject({ kind: "Lease", spec: { holderIdentity: "a" } })
    })))

  it.live("the transport's requestTimeout holds in an uninterruptible region too (a release in a finalizer)", () =>
    Effect.scoped(Effect.gen(function*() {
      const local = yield* server(() => {/* never answers */})
      const leases = yield* leasesFor(local.port, { requestTimeout: "200 millis" })
      const [result, elapsed] = yield* timed(Effect.either(Effect.uninterruptible(leases.get("lock", ns))))
      expect(Either.getLeft(result).pipe(Option.map((error) => error.reason))).toEqual(Option.some("Timeout"))
      expect(elapsed).toBeLessThan(2_000)
      yield* local.closed(0)
    })))

  it.live("the Lease election's requestTimeout aborts a hung request over the real transport", () =>
    Effect.scoped(Effect.gen(function*() {
      const local = yield* server(() => {/* never answers */})
      const election = yield* Effect.map(
        Layer.build(
          LeaderElection.leaseLock("lock", {
            leaseDuration: "2 seconds",
            renewDeadline: "1 second",
            retryPeriod: "500 millis",
            requestTimeout: "200 millis"
          }).pipe(
            Layer.provide(Leases.live),
            Layer.provide(K8sClient.fromKubeConfig(kubeConfigFor(local.port))),
            Layer.provide(ContextInfo.test({ namespace: ns, podName: "pod-a" }))
          )
        ),
        Context.get(LeaderElection)
      )
      // The candidate's first request (the watch's GET) hangs: it is aborted at 200 ms, not at the client's 30 s.
      const fiber = yield* Effect.fork(election.runAsLeader(Effect.void))
      const [, elapsed] = yield* timed(local.closed(0))
      expect(elapsed).toBeLessThan(2_000)
      expect(local.requests[0]).toEqual({ method: "GET", url: `${leasePath}/lock`, body: "" })
      yield* Fiber.interrupt(fiber)
    })))

  it.live("a watch whose consumer lags is paused and resumed: every event arrives, in order, then the end", () =>
    Effect.scoped(Effect.gen(function*() {
      const count = 1_000
      const local = yield* server((_req, res) => {
        res.writeHead(200, { "Content-Type": "application/json", "Transfer-Encoding": "chunked" })
        // All at once: far more lines than the transport queues before it pauses the response.
        const lines = Array.from(
          { length: count },
          (_, i) => JSON.stringify({ type: "MODIFIED", object: sampleLease("a", String(i + 1)) })
        )
        res.end(lines.join("\n") + "\n")
      })
      const leases = yield* leasesFor(local.port)
      const versions: Array<string | undefined> = []
      yield* leases.watch("lock", ns).pipe(
        // A slow consumer at first: the lines pile up while it sleeps.
        Stream.tap((event) => event.object.metadata.resourceVersion === "1" ? Effect.sleep("50 millis") : Effect.void),
        Stream.runForEach((event) => Effect.sync(() => versions.push(event.object.metadata.resourceVersion))),
        Effect.timeoutFail({ duration: "4 seconds", onTimeout: () => `stuck after ${versions.length} events` })
      )
      expect(versions).toEqual(Array.from({ length: count }, (_, i) => String(i + 1)))
    })))

  it.live("a watch parses line-delimited events, across chunk boundaries, and maps an ERROR event to a K8sError", () =>
    Effect.scoped(Effect.gen(function*() {
      const events = [
        { type: "ADDED", object: sampleLease("a", "10") },
        { type: "BOOKMARK", object: { kind: "Lease", metadata: { resourceVersion: "11" } } },
        { type: "MODIFIED", object: sampleLease("b", "12") },
        {
          type: "ERROR",
          object: {
            kind: "Status",
            apiVersion: "v1",
            status: "Failure",
            message: "too old resource version: 10 (12)",
            reason: "Expired",
            code: 410
          }
        }
      ]
      const local = yield* server((_req, res) => {
        res.writeHead(200, { "Content-Type": "application/json", "Transfer-Encoding": "chunked" })
        const text = events.map((event) => JSON.stringify(event)).join("\n") + "\n"
        // Split mid-line, so that a line arrives in two chunks.
        const cut = Math.floor(text.length / 3)
        res.write(text.slice(0, cut))
        setTimeout(() => res.write(text.slice(cut)), 20)
      })
      const leases = yield* leasesFor(local.port)
      const seen: Array<string> = []
      const result = yield* leases.watch("lock", ns, { resourceVersion: "9" }).pipe(
        Stream.runForEach((event) =>
          Effect.sync(() =>
            seen.push(`${event.type} ${event.object.spec?.holderIdentity} ${event.object.metadata.resourceVersion}`)
          )
        ),
        Effect.either
      )
      expect(seen).toEqual(["ADDED a 10", "MODIFIED b 12"])
      const error = Either.getLeft(result).pipe(Option.getOrThrow)
      expect(error).toBeInstanceOf(K8sError)
      expect(error.verb).toBe("watch")
      expect(error.status).toBe(410)
      expect(error.detail).toBe("too old resource version: 10 (12)")
      const url = new URL(local.requests[0]!.url, "http://x")
      expect(url.pathname).toBe(leasePath)
      expect(Object.fromEntries(url.searchParams)).toMatchObject({
        watch: "true",
        fieldSelector: "metadata.name=lock",
        resourceVersion: "9"
      })
    })))

  it.live("a watch ends when the server ends the response", () =>
    Effect.scoped(Effect.gen(function*() {
      const local = yield* server((_req, res) => {
        res.writeHead(200, { "Content-Type": "application/json" })
        res.end(JSON.stringify({ type: "ADDED", object: sampleLease("a", "3") }) + "\n")
      })
      const leases = yield* leasesFor(local.port)
      const events = yield* leases.watch("lock", ns).pipe(Stream.runCollect)
      expect(Chunk.toReadonlyArray(events).map((event) => event.type)).toEqual(["ADDED"])
    })))

  it.live("HTTP 403 with a Status body maps to Forbidden, naming the verb and the resource", () =>
    Effect.scoped(Effect.gen(function*() {
      const message =
        `leases.coordination.k8s.io "lock" is forbidden: User "system:serviceaccount:ops:default" cannot update resource "leases" in API group "coordination.k8s.io" in the namespace "ops"`
      const local = yield* server((_req, res) => {
        res.writeHead(403, { "Content-Type": "application/json" })
        res.end(JSON.stringify({
          kind: "Status",
          apiVersion: "v1",
          metadata: {},
          status: "Failure",
          message,
          reason: "Forbidden",
          details: { name: "lock", group: "coordination.k8s.io", kind: "leases" },
          code: 403
        }))
      })
      const leases = yield* leasesFor(local.port)
      const error = yield* Effect.flip(leases.replace(sampleLease("a", "5")))
      expect(error.reason).toBe("Forbidden")
      expect(error.status).toBe(403)
      expect(error.verb).toBe("update")
      expect(error.resource).toBe("leases.coordination.k8s.io")
      expect(error.namespace).toBe(ns)
      expect(error.detail).toBe(message)
      expect(error.message).toContain(`Grant the verb "update" on "leases.coordination.k8s.io" in namespace "ops"`)
      expect(error.message).toContain(message)
    })))

  it.live("K8sClient.fromFile: the kubeconfig's token is sent, through its proxy-url when it has one", () =>
    Effect.scoped(Effect.gen(function*() {
      const seen: Array<{ readonly url: string | undefined; readonly authorization: string | undefined }> = []
      const local = yield* server((req, res) => {
        seen.push({ url: req.url, authorization: req.headers.authorization })
        res.writeHead(200, { "Content-Type": "application/json" })
        res.end(JSON.stringify(sampleLease("a", "1")))
      })
      // An HTTP CONNECT proxy that tunnels whatever target it is asked for to the local API server.
      const tunnels: Array<string | undefined> = []
      const proxy = http.createServer()
      proxy.on("connect", (req: http.IncomingMessage, client: net.Socket, head: Buffer) => {
        tunnels.push(req.url)
        const upstream = net.connect(local.port, "127.0.0.1", () => {
          client.write("HTTP/1.1 200 Connection Established\r\n\r\n")
          upstream.write(head)
          upstream.pipe(client)
          client.pipe(upstream)
        })
        upstream.on("error", () => client.destroy())
        client.on("error", () => upstream.destroy())
      })
      const proxyPort = yield* Effect.async<number>((resume) => {
        proxy.listen(0, "127.0.0.1", () => resume(Effect.succeed((proxy.address() as AddressInfo).port)))
      })
      yield* Effect.addFinalizer(() =>
        Effect.async<void>((resume) => {
          proxy.closeAllConnections()
          proxy.close(() => resume(Effect.void))
        })
      )
      const directory = fs.mkdtempSync(path.join(os.tmpdir(), "k8sclient-"))
      yield* Effect.addFinalizer(() => Effect.sync(() => fs.rmSync(directory, { recursive: true, force: true })))
      const kubeconfig = (name: string, cluster: string) => {
        const file = path.join(directory, `${name}.yaml`)
        fs.writeFileSync(
          file,
          `current-context: c
contexts: [{ name: c, context: { cluster: c, user: u } }]
clusters: [{ name: c, cluster: { ${cluster} } }]
users: [{ name: u, user: { token: file-token } }]
`
        )
        return file
      }
      const get = (file: string) =>
        Effect.scoped(Effect.flatMap(
          Effect.map(Layer.build(Leases.live.pipe(Layer.provide(K8sClient.fromFile(file)))), Context.get(Leases)),
          (leases) => leases.get("lock", ns)
        ))
      yield* get(kubeconfig("direct", `server: "http://127.0.0.1:${local.port}"`))
      expect(tunnels).toEqual([])
      yield* get(kubeconfig("proxied", `server: "http://api.invalid:6443", proxy-url: "http://127.0.0.1:${proxyPort}"`))
      expect(tunnels).toEqual(["api.invalid:6443"])
      expect(seen).toEqual([
        { url: `${leasePath}/lock`, authorization: "Bearer file-token" },
        { url: `${leasePath}/lock`, authorization: "Bearer file-token" }
      ])
    })))

  it.live("fields this library does not know survive a read-modify-write: get, then replace, sends them back", () =>
    Effect.scoped(Effect.gen(function*() {
      // A Lease as a newer API server (or another client) writes it: unknown fields at every depth.
      const stored = {
        apiVersion: "coordination.k8s.io/v1",
        kind: "Lease",
        metadata: {
          name: "lock",
          namespace: ns,
          resourceVersion: "7",
          labels: { app: "x" },
          managedFields: [{ manager: "kube-controller-manager", operation: "Update" }],
          ownerReferences: [{ apiVersion: "v1", kind: "Pod", name: "p", uid: "u", futureOwnerField: true }]
        },
        spec: { holderIdentity: "a", leaseDurationSeconds: 15, futureField: { nested: [1, 2] } },
        status: { observed: "by a newer server" },
        extra: "kept"
      }
      const local = yield* server((req, res, body) => {
        res.writeHead(200, { "Content-Type": "application/json" })
        if (req.method === "PUT") {
          const written = JSON.parse(body)
          res.end(JSON.stringify({ ...written, metadata: { ...written.metadata, resourceVersion: "8" } }))
        } else {
          res.end(JSON.stringify(stored))
        }
      })
      const leases = yield* leasesFor(local.port)
      const read = yield* leases.get("lock", ns)
      expect(read).toEqual(stored)
      const replaced = yield* leases.replace({ ...read, spec: { ...read.spec, holderIdentity: "b" } })
      const sent = JSON.parse(local.requests[1]!.body)
      expect(sent).toEqual({ ...stored, spec: { ...stored.spec, holderIdentity: "b" } })
      expect(replaced).toEqual({
        ...stored,
        metadata: { ...stored.metadata, resourceVersion: "8" },
        spec: { ...stored.spec, holderIdentity: "b" }
      })
    })))

  it.live("an object that does not match the expected shape fails with Decode, naming the kind", () =>
    Effect.scoped(Effect.gen(function*() {
      const local = yield* server((_req, res) => {
        res.writeHead(200, { "Content-Type": "application/json" })
        res.end(
          JSON.stringify({ kind: "Lease", metadata: { name: "lock", namespace: ns }, spec: { holderIdentity: 1 } })
        )
      })
      const leases = yield* leasesFor(local.port)
      const error = yield* Effect.flip(leases.get("lock", ns))
      expect(error.reason).toBe("Decode")
      expect(error.verb).toBe("get")
      expect(error.detail).toContain("the server's Lease did not match the expected shape")
      expect(error.detail).toContain("holderIdentity")
    })))

  it.live("the bearer token of the kubeconfig is sent", () =>
    Effect.scoped(Effect.gen(function*() {
      const authorization = yield* Deferred.make<string | undefined>()
      const local = yield* server((req, res) => {
        Deferred.unsafeDone(authorization, Exit.succeed(req.headers.authorization))
        res.writeHead(200, { "Content-Type": "application/json" })
        res.end(JSON.stringify(sampleLease("a", "1")))
      })
      const leases = yield* leasesFor(local.port)
      const lease = yield* leases.get("lock", ns)
      expect(lease.spec?.holderIdentity).toBe("a")
      expect(yield* Deferred.await(authorization)).toBe("Bearer secret-token")
    })))
})

const getInfo = { verb: "get", resource: "leases.coordination.k8s.io", namespace: ns, name: "lock" } as const

describe("K8sClient: credentials past their TTL", () => {
  it.live("are applied again in the background: the request goes out at once with the current ones, the next with the new", () =>
    Effect.scoped(Effect.gen(function*() {
      const authorizations: Array<string | undefined> = []
      const local = yield* server((req, res) => {
        authorizations.push(req.headers.authorization)
        res.writeHead(200, { "Content-Type": "application/json" })
        res.end(JSON.stringify(sampleLease("a", "1")))
      })
      // Each application of the credentials waits until the test lets it finish (a slow exec plugin, a file read).
      const applications: Array<(token: string) => void> = []
      const source: ConnectionSource = {
        server: `http://127.0.0.1:${local.port}`,
        proxyUrl: undefined,
        credentials: () =>
          new Promise((resolve) =>
            applications.push((token) => resolve({ tls: {}, headers: { Authorization: `Bearer ${token}` } }))
          )
      }
      // A TTL of 0: every request after the first finds the credentials stale.
      const transport = makeTransport(source, Duration.seconds(5), { credentialsTtlMillis: 0 })
      yield* Effect.addFinalizer(() => Effect.sync(transport.close))
      const get = transport.request({ method: "GET", path: `${leasePath}/lock`, info: getInfo })
      // The first request has nothing to go with: it waits for the credentials.
      const first = yield* Effect.fork(get)
      yield* Effect.sleep("20 millis")
      expect(applications).toHaveLength(1)
      expect(authorizations).toEqual([])
      applications[0]!("old")
      yield* Fiber.join(first)
      yield* Effect.sleep("5 millis")
      // Past the TTL: applied again, and the request does not wait for it.
      yield* get.pipe(
        Effect.timeoutFail({ duration: "2 seconds", onTimeout: () => "the request waited for the credentials" })
      )
      expect(applications).toHaveLength(2)
      expect(authorizations).toEqual(["Bearer old", "Bearer old"])
      // While that application runs, no other starts.
      yield* get
      expect(applications).toHaveLength(2)
      applications[1]!("new")
      yield* Effect.sleep("5 millis")
      yield* get
      expect(authorizations.at(-1)).toBe("Bearer new")
    })))
})

describe("K8sClient configuration errors", () => {
  it.effect("a kubeconfig file that cannot be read fails the layer with a KubeConfigError naming it", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Effect.provide(K8sClient, K8sClient.fromFile("/nonexistent/kubeconfig")))
      expect(error).toBeInstanceOf(KubeConfigError)
      expect(error.message).toContain("/nonexistent/kubeconfig")
      expect(error.message).toContain("KUBECONFIG")
    }))
})
