/**
 * `tsx scripts/cluster.ts up|down|build|status`: a local control plane that outlives this CLI, state in `.cluster/`.
 */
import * as fs from "node:fs/promises"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { ensureBinaries, isAlive, readPidFile, startControlPlane, stopFromPidfile } from "../testkit/controlPlane.js"

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")
const stateDir = path.join(repoRoot, ".cluster")
const log = (line: string): void => {
  process.stderr.write(`[cluster] ${line}\n`)
}

const running = async () => {
  const pids = await readPidFile(stateDir)
  if (pids === undefined || pids.stopped === true) return undefined
  const procs = [
    { name: "etcd", pid: pids.etcd, binary: pids.binaries.etcd },
    { name: "kube-apiserver", pid: pids.kubeApiserver, binary: pids.binaries.kubeApiserver },
    { name: "kube-controller-manager", pid: pids.kubeControllerManager, binary: pids.binaries.kubeControllerManager }
  ]
  const alive = procs.filter((p) => p.pid > 0 && isAlive(p.pid, p.binary))
  return { pids, procs, alive }
}

const printAccess = (admin: string, restricted: string, server: string) => {
  process.stdout.write(
    [
      `server: ${server}`,
      `admin kubeconfig: ${admin}`,
      `restricted kubeconfig: ${restricted}`,
      `user-N kubeconfigs: ${path.join(stateDir, "user-1.kubeconfig")} .. user-8.kubeconfig`,
      `export KUBECONFIG=${admin}`,
      ""
    ].join("\n")
  )
}

const up = async () => {
  const state = await running()
  if (state !== undefined && state.alive.length === state.procs.length) {
    log("already up")
    printAccess(state.pids.adminKubeconfig, state.pids.restrictedKubeconfig, state.pids.server)
    return
  }
  if (state !== undefined && state.alive.length > 0) {
    log(`partially up (${state.alive.map((p) => p.name).join(", ")} alive): stopping first`)
    await stopFromPidfile(stateDir)
  }
  const start = Date.now()
  const binaries = await ensureBinaries({ log })
  // A fresh cluster each time: wipe the previous state (etcd data, certs, logs).
  await fs.rm(stateDir, { recursive: true, force: true })
  const cp = await startControlPlane({ dir: stateDir, log, binaries, detached: true })
  log(`up in ${((Date.now() - start) / 1000).toFixed(1)} s (stop with: tsx scripts/cluster.ts down)`)
  printAccess(cp.adminKubeconfig, cp.restrictedKubeconfig, cp.server)
}

const down = async () => {
  const state = await running()
  if (state === undefined) {
    log("not running (no live .cluster/pids.json)")
    return
  }
  const start = Date.now()
  const left = await stopFromPidfile(stateDir)
  const after = state.procs.filter((p) => p.pid > 0 && isAlive(p.pid, p.binary))
  if (left.length > 0 || after.length > 0) {
    log(`still alive after down: ${[...new Set([...left, ...after.map((p) => p.pid)])].join(", ")}`)
    process.exitCode = 1
    return
  }
  log(`down in ${((Date.now() - start) / 1000).toFixed(2)} s; no process left (state kept in ${stateDir})`)
}

const status = async () => {
  const state = await running()
  if (state === undefined) {
    process.stdout.write("down\n")
    return
  }
  for (const p of state.procs) {
    process.stdout.write(`${p.name} ${p.pid} ${isAlive(p.pid, p.binary) ? "alive" : "dead"}\n`)
  }
  process.stdout.write(`server ${state.pids.server}\nexport KUBECONFIG=${state.pids.adminKubeconfig}\n`)
}

const build = async () => {
  const binaries = await ensureBinaries({ log })
  for (const [name, file] of Object.entries(binaries)) process.stdout.write(`${name}: ${file}\n`)
}

const commands: Record<string, () => Promise<void>> = { up, down, build, status }
const command = commands[process.argv[2] ?? ""]
if (command === undefined) {
  process.stderr.write("usage: tsx scripts/cluster.ts up|down|build|status\n")
  process.exit(2)
}
command().then(
  () => process.exit(),
  (error: unknown) => {
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`)
    process.exit(1)
  }
)
