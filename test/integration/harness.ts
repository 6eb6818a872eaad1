/**
 * What the integration suites share: a real control plane per file, the library's live layers over it, and
 * candidate processes (ours: scripts/candidate.ts; client-go's: tools/candidate) with their JSON event lines.
 */
import { loadYaml } from "@kubernetes/client-node"
import { type Duration, Effect, Layer, Predicate, Schedule } from "effect"
import { type ChildProcess, spawn } from "node:child_process"
import { readFileSync, writeFileSync } from "node:fs"
import * as path from "node:path"
import { createInterface } from "node:readline"
import { fileURLToPath } from "node:url"
import { builtCandidate } from "../../scripts/buildCandidate.js"
import { type ControlPlane, ensureBinaries, startControlPlane } from "../../scripts/controlPlane.js"
import { ConfigMaps, K8sClient, type K8sError, LeaderLocks, Leases, Pods } from "../../src/index.js"

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..")

export const startCluster = (): Promise<ControlPlane> => startControlPlane({ log: () => {} })

/** The library's live resource services, and the client, for a kubeconfig. */
export const liveLayer = (kubeconfig: string) =>
  Layer.mergeAll(Pods.live, ConfigMaps.live, Leases.live, LeaderLocks.live).pipe(
    Layer.provideMerge(K8sClient.fromFile(kubeconfig))
  )

/** Runs an Effect over the live layers of `kubeconfig`. */
export const run = <A, E>(
  kubeconfig: string,
  effect: Effect.Effect<A, E, Pods | ConfigMaps | Leases | LeaderLocks | K8sClient>
): Promise<A> => Effect.runPromise(Effect.provide(effect, liveLayer(kubeconfig)))

let counter = 0
/** A name no other test uses. */
export const unique = (prefix: string) => `${prefix}-${Date.now().toString(36)}-${(counter++).toString(36)}`

/** A Pod with no node: the API server keeps it (nothing schedules it), and deletes it at once when asked. */
export const createPod = (name: string, namespace = "default") =>
  Effect.flatMap(Pods, (pods) =>
    pods.create({
      metadata: { name, namespace },
      spec: { containers: [{ name: "main", image: "registry.k8s.io/pause:3.10" }] }
    }))

/** Marks a Pod Failed through its status subresource, as an eviction does. */
export const failPod = (name: string, reason: string, namespace = "default") =>
  Effect.flatMap(K8sClient, (client) =>
    client.request({
      method: "PATCH",
      path: `/api/v1/namespaces/${namespace}/pods/${name}/status`,
      contentType: "application/merge-patch+json",
      body: { status: { phase: "Failed", reason } },
      info: { verb: "patch", resource: "pods/status", namespace, name }
    }))

/** The documents of a YAML file of the repository (`path` relative to its root). */
export const yamlDocuments = (file: string): Array<any> =>
  readFileSync(path.join(repoRoot, file), "utf8").split(/^---$/m).map((part) => loadYaml(part)).filter(
    Predicate.isRecord
  )

/** Applies (creates or replaces) every document of a YAML file from the repository, in `namespace`. */
export const applyYaml = (file: string, namespace = "default", edit: (doc: any) => any = (doc) => doc) =>
  Effect.gen(function*() {
    const client = yield* K8sClient
    for (const doc of yamlDocuments(file).map(edit)) {
      yield* client.request(
        {
          method: "POST",
          path: collectionPath(doc, namespace),
          body: doc,
          info: resourceInfo(doc, "create", namespace)
        }
      ).pipe(
        Effect.catchIf((error: K8sError) => error.reason === "AlreadyExists", () =>
          client.request({
            method: "GET",
            path: `${collectionPath(doc, namespace)}/${doc.metadata.name}`,
            info: resourceInfo(doc, "get", namespace)
          }).pipe(Effect.flatMap((current: any) =>
            client.request({
              method: "PUT",
              path: `${collectionPath(doc, namespace)}/${doc.metadata.name}`,
              body: { ...doc, metadata: { ...doc.metadata, resourceVersion: current.metadata.resourceVersion } },
              info: resourceInfo(doc, "update", namespace)
            })
          )))
      )
    }
  })

const plurals: Record<string, string> = {
  ServiceAccount: "serviceaccounts",
  Role: "roles",
  RoleBinding: "rolebindings",
  CustomResourceDefinition: "customresourcedefinitions",
  Deployment: "deployments"
}
const clusterScoped = new Set(["CustomResourceDefinition"])

/** The API path of the collection a manifest's object belongs to. */
export const collectionPath = (doc: any, namespace: string) => {
  const apiVersion: string = doc.apiVersion
  const base = apiVersion.includes("/") ? `/apis/${apiVersion}` : `/api/${apiVersion}`
  const plural = plurals[doc.kind]
  if (plural === undefined) throw new Error(`harness.ts: add the plural of ${doc.kind}`)
  return clusterScoped.has(doc.kind) ? `${base}/${plural}` : `${base}/namespaces/${namespace}/${plural}`
}

/** What a request about a manifest's object concerns, for error messages. */
export const resourceInfo = (doc: any, verb: "create" | "get" | "update", namespace: string) => ({
  verb,
  resource: plurals[doc.kind] ?? doc.kind,
  namespace,
  name: doc.metadata?.name
})

/** Polls `check` until it holds. */
export const eventually = <A, E, R>(check: Effect.Effect<A, E, R>, timeout: Duration.DurationInput = "30 seconds") =>
  Effect.retry(check, Schedule.spaced("100 millis").pipe(Schedule.upTo(timeout)))

export interface CandidateEvent {
  readonly event: "ready" | "started_leading" | "stopped_leading" | "new_leader" | "error"
  readonly identity: string
  readonly leader: string
  readonly mono_ns: number
  readonly wall: string
}

export interface Candidate {
  readonly identity: string
  readonly events: ReadonlyArray<CandidateEvent>
  readonly process: ChildProcess
  readonly waitFor: (
    predicate: (event: CandidateEvent) => boolean,
    timeoutMs?: number
  ) => Promise<CandidateEvent>
  readonly exited: Promise<number | null>
  readonly output: () => string
}

export interface CandidateOptions {
  readonly impl: "ours" | "client-go"
  readonly kubeconfig: string
  readonly name: string
  readonly identity: string
  readonly namespace?: string
  readonly lock?: "lease" | "configmap" | "leaderlock"
  /** Go durations, e.g. "2s". */
  readonly leaseDuration?: string
  readonly renewDeadline?: string
  readonly retryPeriod?: string
  readonly repeat?: boolean
}

/** The fast profile the suites use so that expiries take seconds: 2 s / 1.5 s / 0.5 s. */
export const fast = { leaseDuration: "2s", renewDeadline: "1500ms", retryPeriod: "500ms" } as const

const running = new Set<ChildProcess>()
process.on("exit", () => {
  for (const child of running) child.kill("SIGKILL")
})

/** Starts a candidate process and collects its event lines. */
export const spawnCandidate = async (options: CandidateOptions): Promise<Candidate> => {
  const durations = [
    "--lease-duration",
    options.leaseDuration ?? fast.leaseDuration,
    "--renew-deadline",
    options.renewDeadline ?? fast.renewDeadline,
    "--retry-period",
    options.retryPeriod ?? fast.retryPeriod
  ]
  const common = [
    "--kubeconfig",
    options.kubeconfig,
    "--namespace",
    options.namespace ?? "default",
    "--identity",
    options.identity,
    ...durations
  ]
  const child = options.impl === "ours"
    ? spawn(process.execPath, [
      // What users run: the built library on plain node (built by globalSetup.ts, see scripts/buildCandidate.ts).
      builtCandidate,
      ...common,
      "--name",
      options.name,
      "--lock",
      options.lock ?? "lease",
      ...(options.repeat ? ["--repeat"] : [])
    ], { cwd: repoRoot, stdio: ["ignore", "pipe", "pipe"] })
    : spawn((await ensureBinaries({ log: () => {} })).candidate, [...common, "--lease-name", options.name], {
      stdio: ["ignore", "pipe", "pipe"]
    })
  running.add(child)
  const events: Array<CandidateEvent> = []
  const waiters = new Set<() => void>()
  let stderr = ""
  child.stderr!.on("data", (chunk) => {
    stderr += String(chunk)
  })
  createInterface({ input: child.stdout! }).on("line", (line) => {
    if (!line.startsWith("{")) return
    try {
      events.push(JSON.parse(line))
    } catch {
      return
    }
    for (const wake of waiters) wake()
  })
  const exited = new Promise<number | null>((resolve) =>
    child.on("exit", (code) => {
      running.delete(child)
      for (const wake of waiters) wake()
      resolve(code)
    })
  )
  const waitFor: Candidate["waitFor"] = (predicate, timeoutMs = 30_000) =>
    new Promise((resolve, reject) => {
      const check = () => {
        const found = events.find(predicate)
        if (found !== undefined) {
          cleanup()
          resolve(found)
        } else if (child.exitCode !== null || child.signalCode !== null) {
          cleanup()
          reject(new Error(`${options.identity} exited (${child.exitCode ?? child.signalCode}) first:\n${stderr}`))
        }
      }
      const timer = setTimeout(() => {
        cleanup()
        reject(new Error(`${options.identity}: timed out; events: ${JSON.stringify(events)}\n${stderr.slice(-3000)}`))
      }, timeoutMs)
      const cleanup = () => {
        clearTimeout(timer)
        waiters.delete(check)
      }
      waiters.add(check)
      check()
    })
  return { identity: options.identity, events, process: child, waitFor, exited, output: () => stderr }
}

/** The current monotonic time in ns, comparable with the candidates' `mono_ns`. */
export const monoNow = () => Number(process.hrtime.bigint())

/**
 * Leadership intervals from every candidate's events; an interval still open ends at `until`. Asserting that
 * none overlap is asserting that two never led at once.
 */
export const leadershipIntervals = (candidates: ReadonlyArray<Candidate>, until = monoNow()) =>
  candidates.flatMap((candidate) => {
    const intervals: Array<{ identity: string; start: number; end: number }> = []
    let start: number | undefined
    for (const event of candidate.events) {
      if (event.event === "started_leading") start = event.mono_ns
      if (event.event === "stopped_leading" && start !== undefined) {
        intervals.push({ identity: candidate.identity, start, end: event.mono_ns })
        start = undefined
      }
    }
    if (start !== undefined) {
      const killedAt = (candidate as { killedAt?: number }).killedAt
      intervals.push({ identity: candidate.identity, start, end: killedAt ?? until })
    }
    return intervals
  }).sort((a, b) => a.start - b.start)

export const overlaps = (intervals: ReadonlyArray<{ start: number; end: number }>) =>
  intervals.some((interval, index) => index > 0 && interval.start < intervals[index - 1]!.end)

/** SIGKILL, recording when, so that the victim's open interval ends there. */
export const kill = async (candidate: Candidate, signal: NodeJS.Signals) => {
  if (signal === "SIGKILL") (candidate as { killedAt?: number }).killedAt = monoNow()
  candidate.process.kill(signal)
  await candidate.exited
}

/** A leadership interval as {@link leadershipIntervals} returns it. */
export interface LeadershipInterval {
  readonly identity: string
  readonly start: number
  readonly end: number
}

/** Every pair of intervals that overlap (not only adjacent ones), with how long they overlap, in ns. */
export const overlappingPairs = (intervals: ReadonlyArray<LeadershipInterval>) => {
  const sorted = [...intervals].sort((a, b) => a.start - b.start)
  const pairs: Array<{ first: LeadershipInterval; second: LeadershipInterval; overlapNs: number }> = []
  for (let i = 0; i < sorted.length; i++) {
    for (let j = i + 1; j < sorted.length && sorted[j]!.start < sorted[i]!.end; j++) {
      const overlapNs = Math.min(sorted[i]!.end, sorted[j]!.end) - sorted[j]!.start
      if (overlapNs > 0) pairs.push({ first: sorted[i]!, second: sorted[j]!, overlapNs })
    }
  }
  return pairs
}

/**
 * The stretches between `from` and `until` (mono ns) when no interval is open, each with who led before (if
 * anyone) and who led after (if anyone).
 */
export const leaderlessGaps = (intervals: ReadonlyArray<LeadershipInterval>, from: number, until: number) => {
  const sorted = [...intervals].sort((a, b) => a.start - b.start)
  const gaps: Array<{ start: number; end: number; before?: string; after?: string }> = []
  let coveredUntil = from
  let last: string | undefined
  for (const interval of sorted) {
    if (interval.start > coveredUntil) {
      gaps.push({
        start: coveredUntil,
        end: Math.min(interval.start, until),
        ...(last === undefined ? {} : { before: last }),
        after: interval.identity
      })
    }
    if (interval.end > coveredUntil) {
      coveredUntil = interval.end
      last = interval.identity
    }
  }
  if (coveredUntil < until) {
    gaps.push({ start: coveredUntil, end: until, ...(last === undefined ? {} : { before: last }) })
  }
  return gaps.filter((gap) => gap.end > gap.start)
}

/** A copy of a kubeconfig whose server is `server` (e.g. a fault-injecting proxy), written next to it. */
export const kubeconfigWithServer = (source: string, server: string, file: string) => {
  const text = readFileSync(source, "utf8")
  const replaced = text.replace(/^(\s*server:\s*)"?[^"\n]+"?\s*$/m, `$1"${server}"`)
  if (replaced === text) throw new Error(`kubeconfigWithServer: no server line in ${source}`)
  writeFileSync(file, replaced, { mode: 0o600 })
  return file
}
