/**
 * A real Kubernetes control plane (etcd, kube-apiserver, kube-controller-manager) for integration tests,
 * built from source with Go (see tools/README.md) and started as local processes. Node built-ins only.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { createHash, generateKeyPairSync, randomBytes } from "node:crypto"
import { closeSync, existsSync, openSync, readFileSync } from "node:fs"
import * as fs from "node:fs/promises"
import * as http from "node:http"
import * as https from "node:https"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { request } from "./api.js"

/** Absolute paths of the built binaries. */
export interface Binaries {
  etcd: string
  kubeApiserver: string
  kubeControllerManager: string
  candidate: string
}

/** A running control plane. */
export interface ControlPlane {
  /** https://127.0.0.1:PORT */
  readonly server: string
  /** Absolute path of a kubeconfig for user "admin" (group system:masters). */
  readonly adminKubeconfig: string
  /** Absolute path of a kubeconfig for user "restricted" (no groups besides system:authenticated, no permissions). */
  readonly restrictedKubeconfig: string
  /** Absolute path of a kubeconfig for one of the extra unprivileged token users "user-1".."user-8". */
  readonly kubeconfigFor: (user: string) => string
  /** State directory (etcd data, certs, keys, kubeconfigs, logs, pids.json). */
  readonly dir: string
  /** Bearer tokens by user name ("admin", "restricted", "user-1".."user-8"). */
  readonly tokens: Readonly<Record<string, string>>
  /** Stops kube-apiserver and starts it again on the same port with the same flags; resolves when /readyz is ok. */
  restartApiserver(): Promise<void>
  /** SIGTERM controller-manager and apiserver, then etcd; SIGKILL after 10 s. Keeps the state dir unless clean. */
  stop(options?: { readonly clean?: boolean }): Promise<void>
}

/** Options of {@link startControlPlane}. */
export interface StartOptions {
  /** State directory; default: a new temporary directory. */
  readonly dir?: string
  /** Progress lines; default: stderr. */
  readonly log?: (line: string) => void
  /** Binaries to use; default: {@link ensureBinaries}. */
  readonly binaries?: Binaries
  /**
   * Let the processes outlive this Node process (used by scripts/cluster.ts up): no exit handlers, no watchdog.
   * Stop them later with {@link stopFromPidfile}.
   */
  readonly detached?: boolean
}

/** Contents of `<dir>/pids.json`. */
export interface PidFile {
  readonly etcd: number
  readonly kubeApiserver: number
  readonly kubeControllerManager: number
  readonly binaries: Binaries
  readonly server: string
  readonly adminKubeconfig: string
  readonly restrictedKubeconfig: string
  readonly adminToken: string
  readonly dir: string
  readonly startedAt: string
  readonly stopped?: boolean
}

const KUBERNETES_VERSION = "v1.36.3"
const EXTRA_USERS = ["user-1", "user-2", "user-3", "user-4", "user-5", "user-6", "user-7", "user-8"]
const STOP_GRACE_MS = 10_000

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")
const toolsDir = path.join(repoRoot, "tools")

const defaultLog = (line: string): void => {
  process.stderr.write(`[control-plane] ${line}\n`)
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

const since = (start: number) => ((Date.now() - start) / 1000).toFixed(1)

// ---------------------------------------------------------------------------------------------------------------------
// Binaries
// ---------------------------------------------------------------------------------------------------------------------

const ldflags = [
  "-s",
  "-w",
  `-X k8s.io/component-base/version.gitVersion=${KUBERNETES_VERSION}`,
  "-X k8s.io/component-base/version.gitMajor=1",
  "-X k8s.io/component-base/version.gitMinor=36",
  "-X k8s.io/component-base/version.gitTreeState=clean"
].join(" ")

const listFiles = async (dir: string): Promise<Array<string>> => {
  const entries = await fs.readdir(dir, { withFileTypes: true })
  const out: Array<string> = []
  for (const entry of entries) {
    const full = path.join(dir, entry.name)
    if (entry.isDirectory()) out.push(...(await listFiles(full)))
    else if (entry.isFile()) out.push(full)
  }
  return out.sort()
}

/** The cache key: a hash of tools/go.mod, tools/go.sum, the candidate's sources and the build flags. */
export const binariesKey = async (): Promise<string> => {
  const hash = createHash("sha256")
  const files = [
    path.join(toolsDir, "go.mod"),
    path.join(toolsDir, "go.sum"),
    ...(await listFiles(path.join(toolsDir, "candidate")))
  ]
  for (const file of files) {
    hash.update(path.relative(toolsDir, file)).update("\0").update(await fs.readFile(file)).update("\0")
  }
  hash.update(ldflags)
  return hash.digest("hex").slice(0, 16)
}

/** ~/.cache/effect-k8s-leader/bin (or $XDG_CACHE_HOME/effect-k8s-leader/bin). */
export const binariesCacheRoot = (): string =>
  path.join(process.env["XDG_CACHE_HOME"] ?? path.join(os.homedir(), ".cache"), "effect-k8s-leader", "bin")

const binariesIn = (dir: string): Binaries => ({
  etcd: path.join(dir, "etcd"),
  kubeApiserver: path.join(dir, "kube-apiserver"),
  kubeControllerManager: path.join(dir, "kube-controller-manager"),
  candidate: path.join(dir, "candidate")
})

const runGo = (
  args: ReadonlyArray<string>,
  phase: string,
  log: (line: string) => void
): Promise<void> =>
  new Promise((resolve, reject) => {
    const start = Date.now()
    log(`${phase}: go ${args.join(" ")}`)
    const child = spawn("go", args, {
      cwd: toolsDir,
      env: { ...process.env, GOTOOLCHAIN: "local", GOFLAGS: "-mod=readonly -buildvcs=false" },
      stdio: ["ignore", "pipe", "pipe"]
    })
    let output = ""
    const collect = (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-20_000)
    }
    child.stdout.on("data", collect)
    child.stderr.on("data", collect)
    const timer = setInterval(() => log(`${phase}: still building, ${since(start)} s elapsed`), 15_000)
    child.on("error", (error) => {
      clearInterval(timer)
      reject(new Error(`${phase}: cannot run go: ${error.message}`))
    })
    child.on("exit", (code, signal) => {
      clearInterval(timer)
      if (code === 0) {
        log(`${phase}: done in ${since(start)} s`)
        resolve()
      } else {
        reject(new Error(`${phase}: go build failed (${signal ?? code}):\n${output}`))
      }
    })
  })

/**
 * Builds etcd, kube-apiserver, kube-controller-manager and the client-go candidate once into
 * `~/.cache/effect-k8s-leader/bin/<key>/` and returns their paths; skips the build when they are present.
 */
export async function ensureBinaries(options?: { log?: (line: string) => void }): Promise<Binaries> {
  const log = options?.log ?? defaultLog
  const key = await binariesKey()
  const root = binariesCacheRoot()
  const dir = path.join(root, key)
  const binaries = binariesIn(dir)
  if (existsSync(path.join(dir, ".complete"))) return binaries

  const start = Date.now()
  log(`building binaries into ${dir} (a cold build takes about 5 minutes on 2 cores)`)
  await fs.mkdir(root, { recursive: true })
  const tmp = await fs.mkdtemp(path.join(root, `${key}.tmp-`))
  try {
    await runGo(
      [
        "build",
        "-trimpath",
        "-o",
        tmp + path.sep,
        "-ldflags",
        ldflags,
        "go.etcd.io/etcd/server/v3",
        "k8s.io/kubernetes/cmd/kube-apiserver",
        "k8s.io/kubernetes/cmd/kube-controller-manager"
      ],
      "build etcd, kube-apiserver, kube-controller-manager",
      log
    )
    // The etcd main package is go.etcd.io/etcd/server/v3: go names the binary "server".
    await fs.rename(path.join(tmp, "server"), path.join(tmp, "etcd"))
    await runGo(
      ["build", "-trimpath", "-o", path.join(tmp, "candidate"), "-ldflags", "-s -w", "./candidate"],
      "build candidate",
      log
    )
    await fs.writeFile(path.join(tmp, ".complete"), `${new Date().toISOString()}\n`)
    try {
      await fs.rename(tmp, dir)
    } catch (error) {
      // Another process finished the same build first.
      if (!existsSync(path.join(dir, ".complete"))) throw error
      await fs.rm(tmp, { recursive: true, force: true })
    }
  } catch (error) {
    await fs.rm(tmp, { recursive: true, force: true })
    throw error
  }
  log(`binaries ready in ${since(start)} s: ${dir}`)
  return binaries
}

// ---------------------------------------------------------------------------------------------------------------------
// Processes
// ---------------------------------------------------------------------------------------------------------------------

/** Finds `count` distinct free loopback ports by binding port 0 (all held at once, then released). */
const freePorts = async (count: number): Promise<Array<number>> => {
  const servers: Array<net.Server> = []
  try {
    const ports: Array<number> = []
    for (let i = 0; i < count; i++) {
      const server = net.createServer()
      servers.push(server)
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject)
        server.listen(0, "127.0.0.1", () => resolve())
      })
      const address = server.address()
      if (address === null || typeof address === "string") throw new Error("cannot find a free port")
      ports.push(address.port)
    }
    return ports
  } finally {
    await Promise.all(servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))))
  }
}

const tailOf = async (file: string, lines = 40): Promise<string> => {
  try {
    const text = await fs.readFile(file, "utf8")
    return text.split("\n").slice(-lines - 1).join("\n")
  } catch {
    return "(no log)"
  }
}

/** True when `pid` is a live (non-zombie) process; if `binary` is given, its command line must start with it. */
export const isAlive = (pid: number, binary?: string): boolean => {
  try {
    process.kill(pid, 0)
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM"
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3)
    if (state === "Z" || state === "X") return false
    if (binary !== undefined) {
      const argv0 = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0")[0]
      return argv0 === binary
    }
  } catch {
    return false
  }
  return true
}

const signal = (pid: number, sig: NodeJS.Signals): void => {
  try {
    process.kill(pid, sig)
  } catch {
    // already gone
  }
}

/** Sends SIGTERM to every pid, waits until they have exited, SIGKILLs them after `graceMs`. */
const terminate = async (procs: ReadonlyArray<{ pid: number; binary?: string }>, graceMs = STOP_GRACE_MS) => {
  const live = procs.filter((p) => isAlive(p.pid, p.binary))
  for (const p of live) signal(p.pid, "SIGTERM")
  const deadline = Date.now() + graceMs
  while (live.some((p) => isAlive(p.pid, p.binary))) {
    if (Date.now() > deadline) {
      for (const p of live) if (isAlive(p.pid, p.binary)) signal(p.pid, "SIGKILL")
      const hard = Date.now() + 5_000
      while (live.some((p) => isAlive(p.pid, p.binary)) && Date.now() < hard) await sleep(20)
      break
    }
    await sleep(20)
  }
  return live.filter((p) => isAlive(p.pid, p.binary)).map((p) => p.pid)
}

/**
 * Stops the control plane recorded in `<dir>/pids.json`: SIGTERM controller-manager and apiserver, then etcd,
 * SIGKILL after 10 s each. Returns the pids that are still alive afterwards (empty on success).
 */
export const stopFromPidfile = async (dir: string): Promise<Array<number>> => {
  const file = path.join(dir, "pids.json")
  const pids = JSON.parse(await fs.readFile(file, "utf8")) as PidFile
  const left = [
    ...(await terminate([
      { pid: pids.kubeControllerManager, binary: pids.binaries.kubeControllerManager },
      { pid: pids.kubeApiserver, binary: pids.binaries.kubeApiserver }
    ])),
    ...(await terminate([{ pid: pids.etcd, binary: pids.binaries.etcd }]))
  ]
  await fs.writeFile(file, JSON.stringify({ ...pids, stopped: true }, null, 2) + "\n")
  return left
}

/** Reads `<dir>/pids.json`, or undefined. */
export const readPidFile = async (dir: string): Promise<PidFile | undefined> => {
  try {
    return JSON.parse(await fs.readFile(path.join(dir, "pids.json"), "utf8")) as PidFile
  } catch {
    return undefined
  }
}

/**
 * Watchdog source, run by `node -e` with [parentPid, pidsFile]: when the parent Node process is gone and the
 * control plane was not stopped, stop it (TERM controller-manager and apiserver, then etcd, KILL after 10 s).
 */
const WATCHDOG = `
const fs = require("node:fs")
const parent = Number(process.argv[1]), file = process.argv[2]
const alive = (pid, bin) => {
  try { process.kill(pid, 0) } catch (e) { return e.code === "EPERM" }
  try {
    const st = fs.readFileSync("/proc/" + pid + "/stat", "utf8"); const s = st[st.lastIndexOf(")") + 2]
    if (s === "Z" || s === "X") return false
    return fs.readFileSync("/proc/" + pid + "/cmdline", "utf8").split("\\0")[0] === bin
  } catch { return false }
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))
const term = async (ps) => {
  ps = ps.filter((p) => alive(p[0], p[1]))
  for (const p of ps) { try { process.kill(p[0], "SIGTERM") } catch {} }
  const end = Date.now() + 10000
  while (ps.some((p) => alive(p[0], p[1])) && Date.now() < end) await sleep(50)
  for (const p of ps) if (alive(p[0], p[1])) { try { process.kill(p[0], "SIGKILL") } catch {} }
}
const main = async () => {
  for (;;) {
    await sleep(500)
    let pids
    try { pids = JSON.parse(fs.readFileSync(file, "utf8")) } catch { continue }
    if (pids.stopped) return
    let parentAlive = true
    try { process.kill(parent, 0) } catch (e) { parentAlive = e.code === "EPERM" }
    if (parentAlive) continue
    const b = pids.binaries
    await term([[pids.kubeControllerManager, b.kubeControllerManager], [pids.kubeApiserver, b.kubeApiserver]])
    await term([[pids.etcd, b.etcd]])
    return
  }
}
main()
`

interface Managed {
  readonly name: string
  readonly binary: string
  readonly args: ReadonlyArray<string>
  readonly logFile: string
  child: ChildProcess
  exited: Promise<void>
  hasExited: boolean
}

const launch = (
  name: string,
  binary: string,
  args: ReadonlyArray<string>,
  logFile: string,
  detached: boolean
): Managed => {
  const fd = openSync(logFile, "a")
  let child: ChildProcess
  try {
    // Own process group: a terminal's Ctrl+C does not hit them all at once (order matters when stopping).
    child = spawn(binary, args, { stdio: ["ignore", fd, fd], detached: true })
  } finally {
    closeSync(fd)
  }
  if (detached) child.unref()
  const managed: Managed = { name, binary, args, logFile, child, exited: Promise.resolve(), hasExited: false }
  managed.exited = new Promise<void>((resolve) => {
    child.once("exit", () => {
      managed.hasExited = true
      resolve()
    })
    child.once("error", () => {
      managed.hasExited = true
      resolve()
    })
  })
  return managed
}

/** Polls `check` every `intervalMs` until it returns true; rejects with the process' log tail if it dies first. */
const waitUntil = async (
  what: string,
  check: () => Promise<boolean>,
  options: { readonly timeoutMs: number; readonly intervalMs?: number; readonly watch?: ReadonlyArray<Managed> }
): Promise<void> => {
  const deadline = Date.now() + options.timeoutMs
  for (;;) {
    for (const m of options.watch ?? []) {
      if (m.hasExited) {
        const code = m.child.exitCode ?? m.child.signalCode
        throw new Error(
          `${m.name} exited (${code}) while waiting for ${what}; last lines of ${m.logFile}:\n${await tailOf(
            m.logFile
          )}`
        )
      }
    }
    if (await check().catch(() => false)) return
    if (Date.now() > deadline) {
      const logs = await Promise.all(
        (options.watch ?? []).map(async (m) => `--- ${m.logFile}\n${await tailOf(m.logFile)}`)
      )
      throw new Error(`timed out after ${options.timeoutMs} ms waiting for ${what}\n${logs.join("\n")}`)
    }
    await sleep(options.intervalMs ?? 100)
  }
}

// ---------------------------------------------------------------------------------------------------------------------
// HTTP
// ---------------------------------------------------------------------------------------------------------------------

// ---------------------------------------------------------------------------------------------------------------------
// Control plane
// ---------------------------------------------------------------------------------------------------------------------

const kubeconfigYaml = (server: string, user: string, token: string, caData: string | undefined): string =>
  [
    "apiVersion: v1",
    "kind: Config",
    "clusters:",
    "- name: effect-k8s-leader",
    "  cluster:",
    `    server: "${server}"`,
    caData === undefined ? "    insecure-skip-tls-verify: true" : `    certificate-authority-data: "${caData}"`,
    "users:",
    `- name: "${user}"`,
    "  user:",
    `    token: "${token}"`,
    "contexts:",
    `- name: "${user}"`,
    "  context:",
    "    cluster: effect-k8s-leader",
    `    user: "${user}"`,
    "    namespace: default",
    `current-context: "${user}"`,
    ""
  ].join("\n")

/**
 * Starts etcd, kube-apiserver (RBAC, token auth) and kube-controller-manager (garbage collector and namespace
 * controller) on free loopback ports; resolves when /readyz is ok and a garbage-collector canary passed.
 */
export async function startControlPlane(options?: StartOptions): Promise<ControlPlane> {
  const log = options?.log ?? defaultLog
  const detached = options?.detached ?? false
  const begin = Date.now()
  const binaries = options?.binaries ?? (await ensureBinaries({ log }))
  const dir = path.resolve(options?.dir ?? (await fs.mkdtemp(path.join(os.tmpdir(), "effect-k8s-leader-cp-"))))
  await fs.mkdir(dir, { recursive: true })
  const certDir = path.join(dir, "certs")
  const logDir = path.join(dir, "logs")
  const etcdData = path.join(dir, "etcd-data")
  await Promise.all([certDir, logDir, etcdData].map((d) => fs.mkdir(d, { recursive: true, mode: 0o700 })))

  // Tokens and service-account keys.
  const tokens: Record<string, string> = {}
  for (const user of ["admin", "restricted", ...EXTRA_USERS]) tokens[user] = randomBytes(24).toString("hex")
  const tokenFile = path.join(dir, "tokens.csv")
  await fs.writeFile(
    tokenFile,
    [
      `${tokens["admin"]},admin,uid-admin,"system:masters"`,
      `${tokens["restricted"]},restricted,uid-restricted`,
      ...EXTRA_USERS.map((user) => `${tokens[user]},${user},uid-${user}`)
    ].join("\n") + "\n",
    { mode: 0o600 }
  )
  const adminToken = tokens["admin"]!
  const saKey = path.join(dir, "sa.key")
  const saPub = path.join(dir, "sa.pub")
  const keys = generateKeyPairSync("rsa", {
    modulusLength: 2048,
    publicKeyEncoding: { type: "spki", format: "pem" },
    privateKeyEncoding: { type: "pkcs1", format: "pem" }
  })
  await fs.writeFile(saKey, keys.privateKey, { mode: 0o600 })
  await fs.writeFile(saPub, keys.publicKey)

  const [etcdClientPort, etcdPeerPort, apiPort] = (await freePorts(3)) as [number, number, number]
  const etcdUrl = `http://127.0.0.1:${etcdClientPort}`
  const server = `https://127.0.0.1:${apiPort}`
  const pidsFile = path.join(dir, "pids.json")
  const procs: Array<Managed> = []
  const httpAgent = new http.Agent({ keepAlive: false })
  const agent = new https.Agent({ keepAlive: true, rejectUnauthorized: false, maxSockets: 4 })

  // Abrupt parent death: SIGKILL on 'exit', the default signal handlers re-raised, and a watchdog process.
  let watchdog: ChildProcess | undefined
  const killAll = () => {
    for (const m of procs) if (!m.hasExited) signal(m.child.pid ?? -1, "SIGKILL")
  }
  const onSignal = (sig: NodeJS.Signals) => {
    killAll()
    // If nobody else handles the signal, behave like the default handler.
    if (process.listenerCount(sig) === 0) process.kill(process.pid, sig)
  }
  const signalHandlers = (["SIGINT", "SIGTERM", "SIGHUP"] as const).map((sig) => {
    const handler = () => {
      process.removeListener(sig, handler)
      onSignal(sig)
    }
    return [sig, handler] as const
  })
  const removeHandlers = () => {
    process.removeListener("exit", killAll)
    for (const [sig, handler] of signalHandlers) process.removeListener(sig, handler)
  }
  if (!detached) {
    process.on("exit", killAll)
    for (const [sig, handler] of signalHandlers) process.on(sig, handler)
  }

  const writePids = async (stopped = false) => {
    const etcd = procs.find((m) => m.name === "etcd")
    const apiserver = procs.find((m) => m.name === "kube-apiserver")
    const cm = procs.find((m) => m.name === "kube-controller-manager")
    const content: PidFile = {
      etcd: etcd?.child.pid ?? 0,
      kubeApiserver: apiserver?.child.pid ?? 0,
      kubeControllerManager: cm?.child.pid ?? 0,
      binaries,
      server,
      adminKubeconfig: path.join(dir, "admin.kubeconfig"),
      restrictedKubeconfig: path.join(dir, "restricted.kubeconfig"),
      adminToken,
      dir,
      startedAt: new Date(begin).toISOString(),
      ...(stopped ? { stopped: true } : {})
    }
    await fs.writeFile(pidsFile, JSON.stringify(content, null, 2) + "\n")
  }

  const stopAll = async () => {
    removeHandlers()
    const live = (names: ReadonlyArray<string>) =>
      procs.filter((m) => names.includes(m.name) && !m.hasExited).map((m) => ({
        pid: m.child.pid ?? -1,
        binary: m.binary
      }))
    await terminate(live(["kube-controller-manager", "kube-apiserver"]))
    await terminate(live(["etcd"]))
    await Promise.all(procs.map((m) => m.exited))
    agent.destroy()
    httpAgent.destroy()
    await writePids(true).catch(() => undefined)
    if (watchdog !== undefined && watchdog.exitCode === null) signal(watchdog.pid ?? -1, "SIGKILL")
  }

  try {
    // etcd
    let t = Date.now()
    const etcd = launch(
      "etcd",
      binaries.etcd,
      [
        "--name=default",
        `--data-dir=${etcdData}`,
        `--listen-client-urls=${etcdUrl}`,
        `--advertise-client-urls=${etcdUrl}`,
        `--listen-peer-urls=http://127.0.0.1:${etcdPeerPort}`,
        `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeerPort}`,
        `--initial-cluster=default=http://127.0.0.1:${etcdPeerPort}`,
        "--unsafe-no-fsync=true",
        "--log-level=warn"
      ],
      path.join(logDir, "etcd.log"),
      detached
    )
    procs.push(etcd)
    await writePids()
    if (!detached) {
      watchdog = spawn(process.execPath, ["-e", WATCHDOG, String(process.pid), pidsFile], {
        stdio: "ignore",
        detached: true
      })
      watchdog.unref()
    }
    await waitUntil(
      "etcd /health",
      async () => {
        const res = await request(httpAgent, `${etcdUrl}/health`, { timeoutMs: 1_000 })
        return res.status === 200 && (JSON.parse(res.body) as { health?: string }).health === "true"
      },
      { timeoutMs: 30_000, watch: [etcd] }
    )
    log(`etcd healthy on ${etcdUrl} after ${since(t)} s`)

    // kube-apiserver
    t = Date.now()
    const apiserverArgs = [
      `--etcd-servers=${etcdUrl}`,
      "--bind-address=127.0.0.1",
      "--advertise-address=127.0.0.1",
      `--secure-port=${apiPort}`,
      `--cert-dir=${certDir}`,
      "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
      `--service-account-key-file=${saPub}`,
      `--service-account-signing-key-file=${saKey}`,
      "--authorization-mode=RBAC",
      `--token-auth-file=${tokenFile}`,
      "--service-cluster-ip-range=10.0.0.0/24",
      "--allow-privileged=true",
      "--disable-admission-plugins=ServiceAccount",
      // Without it, SIGTERM waits up to --request-timeout (60 s) for open watches (HTTP/2 streams) to end.
      "--shutdown-send-retry-after=true"
    ]
    const apiserverLog = path.join(logDir, "kube-apiserver.log")
    let apiserver = launch("kube-apiserver", binaries.kubeApiserver, apiserverArgs, apiserverLog, detached)
    procs.push(apiserver)
    await writePids()
    const waitReady = (m: Managed) =>
      waitUntil(
        "kube-apiserver /readyz",
        async () => {
          const res = await request(agent, `${server}/readyz`, { token: adminToken, timeoutMs: 2_000 })
          return res.status === 200 && res.body.trim() === "ok"
        },
        { timeoutMs: 90_000, intervalMs: 100, watch: [etcd, m] }
      )
    await waitReady(apiserver)
    log(`kube-apiserver ready on ${server} after ${since(t)} s`)

    // kubeconfigs (with the apiserver's self-signed CA bundle when present)
    const caFile = path.join(certDir, "apiserver.crt")
    const caData = existsSync(caFile) ? (await fs.readFile(caFile)).toString("base64") : undefined
    const kubeconfigs: Record<string, string> = {}
    for (const user of Object.keys(tokens)) {
      const file = path.join(dir, `${user}.kubeconfig`)
      await fs.writeFile(file, kubeconfigYaml(server, user, tokens[user]!, caData), { mode: 0o600 })
      kubeconfigs[user] = file
    }

    // kube-controller-manager
    t = Date.now()
    const cm = launch(
      "kube-controller-manager",
      binaries.kubeControllerManager,
      [
        `--kubeconfig=${kubeconfigs["admin"]}`,
        "--controllers=garbage-collector-controller,namespace-controller",
        "--leader-elect=false",
        "--use-service-account-credentials=false",
        "--secure-port=0"
      ],
      path.join(logDir, "kube-controller-manager.log"),
      detached
    )
    procs.push(cm)
    await writePids()

    // Garbage-collector canary.
    const api = (method: string, p: string, body?: unknown) =>
      request(agent, `${server}${p}`, { method, token: adminToken, ...(body === undefined ? {} : { body }) })
    const suffix = randomBytes(4).toString("hex")
    const podName = `gc-canary-${suffix}`
    let podUid = ""
    await waitUntil(
      "canary Pod creation",
      async () => {
        const res = await api("POST", "/api/v1/namespaces/default/pods", {
          apiVersion: "v1",
          kind: "Pod",
          metadata: { name: podName },
          spec: { containers: [{ name: "c", image: "registry.k8s.io/pause:3.10" }] }
        })
        if (res.status !== 201) return false
        podUid = (JSON.parse(res.body) as { metadata: { uid: string } }).metadata.uid
        return true
      },
      { timeoutMs: 30_000, intervalMs: 200, watch: [etcd, apiserver, cm] }
    )
    const cmPath = `/api/v1/namespaces/default/configmaps/gc-canary-${suffix}`
    const created = await api("POST", "/api/v1/namespaces/default/configmaps", {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: {
        name: `gc-canary-${suffix}`,
        ownerReferences: [{ apiVersion: "v1", kind: "Pod", name: podName, uid: podUid }]
      },
      data: { canary: "true" }
    })
    if (created.status !== 201) throw new Error(`canary ConfigMap: ${created.status} ${created.body}`)
    const deleted = await api("DELETE", `/api/v1/namespaces/default/pods/${podName}`)
    if (deleted.status !== 200 && deleted.status !== 202) throw new Error(`canary Pod delete: ${deleted.status}`)
    await waitUntil(
      "garbage collection of the canary ConfigMap",
      async () => (await api("GET", cmPath)).status === 404,
      {
        timeoutMs: 60_000,
        intervalMs: 100,
        watch: [etcd, apiserver, cm]
      }
    )
    log(`kube-controller-manager garbage collector ok after ${since(t)} s; control plane ready in ${since(begin)} s`)
    log(`state dir ${dir}`)

    const restartApiserver = async () => {
      const start = Date.now()
      await terminate([{ pid: apiserver.child.pid ?? -1, binary: apiserver.binary }])
      await apiserver.exited
      const next = launch("kube-apiserver", binaries.kubeApiserver, apiserverArgs, apiserverLog, detached)
      procs.splice(procs.indexOf(apiserver), 1, next)
      apiserver = next
      await writePids()
      await waitReady(next)
      log(`kube-apiserver restarted in ${since(start)} s`)
    }

    let stopped: Promise<void> | undefined
    const controlPlane: ControlPlane = {
      server,
      adminKubeconfig: kubeconfigs["admin"]!,
      restrictedKubeconfig: kubeconfigs["restricted"]!,
      kubeconfigFor: (user) => {
        const file = kubeconfigs[user]
        if (file === undefined) {
          throw new Error(`no kubeconfig for user ${user}; known: ${Object.keys(kubeconfigs).join(", ")}`)
        }
        return file
      },
      dir,
      tokens,
      restartApiserver,
      stop: async (stopOptions) => {
        stopped ??= stopAll()
        await stopped
        if (stopOptions?.clean === true) await fs.rm(dir, { recursive: true, force: true })
      }
    }
    if (detached) {
      agent.destroy()
      httpAgent.destroy()
    }
    return controlPlane
  } catch (error) {
    log(`start failed, stopping: ${(error as Error).message.split("\n")[0]}`)
    await stopAll().catch(() => undefined)
    throw error
  }
}
