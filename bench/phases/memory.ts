/**
 * What each part of a running candidate costs in memory: a fresh node process imports the parts one after the other
 * and reports its resident set after each (VmRSS, after a settle). The rows are cumulative, in the order a candidate
 * loads them; the alternatives measure what the library no longer loads. Per edition: Effect 3 (dist/index.js and
 * the root node_modules, on the Node that runs this) and Effect 4 (dist/effect4/index.js on Node 24, with Effect 4's
 * packages of effect4/node_modules, which dist/effect4 reaches through its node_modules link).
 *
 *   tsx bench/phases/memory.ts [ours,ours4]   # needs the built library: `tsx testkit/buildCandidate.ts`
 */
import { execFileSync } from "node:child_process"
import { existsSync, realpathSync } from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { node24Path } from "../../testkit/candidates.js"
import { type Ours, oursImpls } from "../settings.js"

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..")

/** The resident set, in MiB, of a process of `node` that imported `modules` in order, resolved from `cwd`. */
const rssAfter = (node: string, cwd: string, modules: ReadonlyArray<string>): number => {
  const script = `
for (const module of ${JSON.stringify(modules)}) await import(module)
await new Promise((resolve) => setTimeout(resolve, 300))
const status = (await import("node:fs")).readFileSync("/proc/self/status", "utf8")
process.stdout.write(String(Number(/VmRSS:\\s+(\\d+)/.exec(status)[1]) / 1024))
`
  const runs = [0, 1, 2].map(() =>
    Number(execFileSync(node, ["--input-type=module", "-e", script], { cwd, encoding: "utf8" }))
  )
  return runs.sort((a, b) => a - b)[1]!
}

export interface MemoryRow {
  readonly part: string
  readonly cumulativeMiB: number
  readonly partMiB: number
}

/** One edition's rows: the cumulative steps, then the alternatives (each measured over the last step). */
export interface MemoryTable {
  /** The Node that ran it (results files before the Effect 4 edition do not say: the bench's). */
  readonly node?: string
  readonly rows: ReadonlyArray<MemoryRow>
  readonly alternatives: ReadonlyArray<MemoryRow>
}

/**
 * Effect 3's table at the top level (as results files before the Effect 4 edition have it, where it is always
 * there), Effect 4's under `effect4`; each only if the run measured that edition.
 */
export interface MemoryResult extends Partial<MemoryTable> {
  readonly effect4?: MemoryTable
}

interface Edition {
  readonly node: string
  /** Where the bare specifiers resolve from: the library's own directory, so that they load what it loads. */
  readonly cwd: string
  readonly steps: ReadonlyArray<readonly [string, ReadonlyArray<string>]>
  readonly alternatives: ReadonlyArray<readonly [string, ReadonlyArray<string>]>
}

/** What every candidate of either edition loads before the library: node, `effect`, the runtime and file system. */
const runtimeSteps: Edition["steps"] = [
  ["node itself", []],
  ["effect (its root module)", ["effect"]],
  ["@effect/platform-node/NodeRuntime, NodeFileSystem", [
    "@effect/platform-node/NodeRuntime",
    "@effect/platform-node/NodeFileSystem"
  ]]
]
const clientNode = [
  "+ @kubernetes/client-node (its KubeConfig loads its generated API)",
  ["@kubernetes/client-node"]
] as const

const effect3 = (): Edition => ({
  node: process.execPath,
  cwd: root,
  steps: [
    ...runtimeSteps,
    ["effect-k8s-leader (dist/, with js-yaml and @effect/platform/HttpRouter)", [path.join(root, "dist/index.js")]]
  ],
  alternatives: [
    clientNode,
    ["+ @effect/platform root module (instead of its modules)", ["@effect/platform"]],
    ["+ @effect/platform-node root module", ["@effect/platform-node"]]
  ]
})

const effect4 = (): Edition => {
  const cwd = path.join(root, "dist/effect4")
  const link = path.join(cwd, "node_modules")
  if (!existsSync(path.join(cwd, "index.js")) || !existsSync(link)) {
    throw new Error(
      "memory: no dist/effect4/index.js or no dist/effect4/node_modules link: build with `tsx testkit/buildCandidate.ts`"
    )
  }
  if (realpathSync(link) !== realpathSync(path.join(root, "effect4/node_modules"))) {
    throw new Error(`memory: dist/effect4/node_modules is not effect4/node_modules (${realpathSync(link)})`)
  }
  return {
    node: node24Path(),
    cwd,
    steps: [
      ...runtimeSteps,
      ["effect-k8s-leader (dist/effect4/, with js-yaml and effect/http)", [path.join(cwd, "index.js")]]
    ],
    alternatives: [
      clientNode,
      ["+ @effect/platform-node root module", ["@effect/platform-node"]]
    ]
  }
}

const measureEdition = (edition: Edition): MemoryTable => {
  const rows: Array<MemoryRow> = []
  const loaded: Array<string> = []
  for (const [part, modules] of edition.steps) {
    loaded.push(...modules)
    const cumulative = rssAfter(edition.node, edition.cwd, loaded)
    rows.push({ part, cumulativeMiB: cumulative, partMiB: cumulative - (rows.at(-1)?.cumulativeMiB ?? 0) })
  }
  const base = rows.at(-1)!.cumulativeMiB
  const alternatives = edition.alternatives.map(([part, modules]) => {
    const cumulative = rssAfter(edition.node, edition.cwd, [...loaded, ...modules])
    return { part, cumulativeMiB: cumulative, partMiB: cumulative - base }
  })
  const node = execFileSync(edition.node, ["--version"], { encoding: "utf8" }).trim()
  return { node, rows, alternatives }
}

/** The tables of the editions named (Effect 3: "ours", Effect 4: "ours4"). */
export const measureMemory = (editions: ReadonlyArray<Ours> = oursImpls): MemoryResult => ({
  ...(editions.includes("ours") ? measureEdition(effect3()) : {}),
  ...(editions.includes("ours4") ? { effect4: measureEdition(effect4()) } : {})
})

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const editions = (process.argv[2]?.split(",") ?? oursImpls) as ReadonlyArray<Ours>
  const result = measureMemory(editions)
  const tables: Array<readonly [string, MemoryTable]> = [
    ...(result.rows === undefined ? [] : [["Effect 3", result as MemoryTable] as const]),
    ...(result.effect4 === undefined ? [] : [["Effect 4", result.effect4] as const])
  ]
  for (const [edition, table] of tables) {
    process.stdout.write(`${edition} (Node ${table.node}):\n`)
    for (const row of [...table.rows, ...table.alternatives]) {
      process.stdout.write(
        `${row.part.padEnd(75)} ${row.partMiB.toFixed(1).padStart(6)} MiB  (${row.cumulativeMiB.toFixed(1)})\n`
      )
    }
  }
}
