/**
 * What each part of a running candidate costs in memory: a fresh node process imports the parts one after the other
 * and reports its resident set after each (VmRSS, after a settle). The rows are cumulative, in the order a candidate
 * loads them; the alternatives measure what the library no longer loads.
 *
 *   tsx bench/phases/memory.ts            # needs `npm run build` (dist/)
 */
import { execFileSync } from "node:child_process"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..")

/** The resident set, in MiB, of a node process that imported `modules` in order. */
const rssAfter = (modules: ReadonlyArray<string>): number => {
  const script = `
for (const module of ${JSON.stringify(modules)}) await import(module)
await new Promise((resolve) => setTimeout(resolve, 300))
const status = (await import("node:fs")).readFileSync("/proc/self/status", "utf8")
process.stdout.write(String(Number(/VmRSS:\\s+(\\d+)/.exec(status)[1]) / 1024))
`
  const runs = [0, 1, 2].map(() =>
    Number(execFileSync(process.execPath, ["--input-type=module", "-e", script], { cwd: root, encoding: "utf8" }))
  )
  return runs.sort((a, b) => a - b)[1]!
}

export interface MemoryRow {
  readonly part: string
  readonly cumulativeMiB: number
  readonly partMiB: number
}

const dist = path.join(root, "dist/index.js")

/** The cumulative steps, then the alternatives (each measured over the step before it). */
export const measureMemory = (): {
  readonly rows: ReadonlyArray<MemoryRow>
  readonly alternatives: ReadonlyArray<MemoryRow>
} => {
  const steps: ReadonlyArray<readonly [string, ReadonlyArray<string>]> = [
    ["node itself", []],
    ["effect (its root module)", ["effect"]],
    ["@effect/platform-node/NodeRuntime, NodeFileSystem", [
      "@effect/platform-node/NodeRuntime",
      "@effect/platform-node/NodeFileSystem"
    ]],
    ["effect-k8s-leader (dist/, with js-yaml and @effect/platform/HttpRouter)", [dist]]
  ]
  const rows: Array<MemoryRow> = []
  const loaded: Array<string> = []
  for (const [part, modules] of steps) {
    loaded.push(...modules)
    const cumulative = rssAfter(loaded)
    rows.push({ part, cumulativeMiB: cumulative, partMiB: cumulative - (rows.at(-1)?.cumulativeMiB ?? 0) })
  }
  const base = rows.at(-1)!.cumulativeMiB
  const alternatives = (
    [
      ["+ @kubernetes/client-node (its KubeConfig loads its generated API)", ["@kubernetes/client-node"]],
      ["+ @effect/platform root module (instead of its modules)", ["@effect/platform"]],
      ["+ @effect/platform-node root module", ["@effect/platform-node"]]
    ] as const
  ).map(([part, modules]) => {
    const cumulative = rssAfter([...loaded, ...modules])
    return { part, cumulativeMiB: cumulative, partMiB: cumulative - base }
  })
  return { rows, alternatives }
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const { alternatives, rows } = measureMemory()
  for (const row of [...rows, ...alternatives]) {
    process.stdout.write(
      `${row.part.padEnd(75)} ${row.partMiB.toFixed(1).padStart(6)} MiB  (${row.cumulativeMiB.toFixed(1)})\n`
    )
  }
}
