/**
 * `npm run bench`: ours in both editions (Effect 3: "ours", Effect 4: "ours4") against client-go's leader election,
 * side by side, on a local control plane that this script starts and stops (testkit/controlPlane.ts). See
 * docs/benchmarks.md for the method and the latest table.
 *
 *   tsx bench/run.ts [--trials 20] [--steady 120] [--profile default|fast|both]
 *                    [--only graceful,warm,crash,lfl,load,scale,cost,events,memory] [--quick] [--scale 50] [--parallel 1]
 *                    [--impls ours,ours4,client-go] [--serial] [--lfl-trials 5] [--no-docs] [--keep]
 *   tsx bench/run.ts --render bench/results/latest.json   # the table and docs/benchmarks.md from a results file
 *   tsx bench/run.ts --render A.json --merge B.json        # ... with B's phases replacing A's (writes latest.json)
 *
 * The phases are in bench/phases/, the table, the targets and the page in bench/report/.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { parseArgs } from "node:util"
import { buildCandidate } from "../testkit/buildCandidate.js"
import { node24Path } from "../testkit/candidates.js"
import { ensureBinaries, startControlPlane } from "../testkit/controlPlane.js"
import { apiServer } from "./apiServer.js"
import type { Bench } from "./context.js"
import { measureEvents } from "./phases/events.js"
import { type FloorResult, measureFloor } from "./phases/floor.js"
import { handover, warmHandover } from "./phases/handover.js"
import { type LflResult, measureLfl } from "./phases/lfl.js"
import { type Baseline, measureBaseline, measureLoad } from "./phases/load.js"
import { measureMemory, type MemoryResult } from "./phases/memory.js"
import { measureScale } from "./phases/scale.js"
import { machine, renderDocs, writeDocs } from "./report/docs.js"
import { buildTable, type ProfileResults, renderTable, type Row } from "./report/table.js"
import { evaluateTargets, type Target } from "./report/targets.js"
import { eachImpl, isOurs, log, type Phase, profiles, settingsFrom } from "./settings.js"

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")
const resultsDir = path.join(repoRoot, "bench/results")

const { values: flags } = parseArgs({
  options: {
    trials: { type: "string" },
    steady: { type: "string" },
    profile: { type: "string", default: "both" },
    only: { type: "string" },
    quick: { type: "boolean", default: false },
    scale: { type: "string" },
    parallel: { type: "string" },
    "lfl-trials": { type: "string" },
    impls: { type: "string" },
    serial: { type: "boolean", default: false },
    "no-docs": { type: "boolean", default: false },
    render: { type: "string" },
    merge: { type: "string" },
    keep: { type: "boolean", default: false }
  }
})

const writeResults = (json: string, suffix = "") => {
  mkdirSync(resultsDir, { recursive: true })
  if (flags.keep) {
    writeFileSync(path.join(resultsDir, `${new Date().toISOString().replace(/[:.]/g, "-")}${suffix}.json`), json)
  }
  writeFileSync(path.join(resultsDir, "latest.json"), json)
}

const printSummary = (rows: Array<Row>, targets: Array<Target>, seconds: number) => {
  process.stdout.write(`\n${renderTable(rows, false)}\n\n`)
  for (const t of targets) {
    process.stdout.write(
      `${t.reportOnly ? "report" : t.met === undefined ? "n/a   " : t.met ? "met   " : "MISSED"} ${
        t.profile.padEnd(8)
      } ${t.target}: ${t.value}\n`
    )
  }
  process.stdout.write(`\nbench finished in ${seconds.toFixed(0)} s; raw numbers in bench/results/latest.json\n`)
}

const tableAndTargets = (report: Record<string, any>) => {
  const rows = buildTable(
    report.results,
    report.lfl,
    report.floor,
    (report.settings.only as Array<Phase>).includes("cost")
  )
  const targets = evaluateTargets(report.results, {
    steadySeconds: report.settings.steadySeconds,
    loadAverage: report.machine.loadAverageAtStart,
    floor: report.floor
  })
  return { rows, targets }
}

/** `--render FILE`: the table and docs/benchmarks.md again from a results file, without running anything. */
const render = (file: string) => {
  const report = JSON.parse(readFileSync(file, "utf8"))
  if (flags.merge !== undefined) {
    // `--merge OTHER`: the phases measured in OTHER replace the same phases of FILE (e.g. a re-run of one phase).
    const other = JSON.parse(readFileSync(flags.merge, "utf8"))
    const replaced: Array<string> = []
    for (const [profile, phasesOfOther] of Object.entries(other.results as Record<string, ProfileResults>)) {
      for (const [phase, value] of Object.entries(phasesOfOther)) {
        report.results[profile] = { ...report.results[profile], [phase]: value }
        replaced.push(`${profile} ${phase}`)
      }
    }
    if (other.lfl !== undefined) {
      report.lfl = other.lfl
      replaced.push("lfl")
    }
    report.merged = [...(report.merged ?? []), {
      from: path.basename(flags.merge),
      finishedAt: other.finishedAt,
      durationSeconds: other.durationSeconds,
      settings: other.settings,
      loadAverageAtStart: other.machine.loadAverageAtStart,
      replaced
    }]
    writeResults(JSON.stringify(report, null, 2) + "\n", "-merged")
  }
  const { rows, targets } = tableAndTargets(report)
  writeDocs(renderDocs({ ...report, table: rows, targets }, rows, targets))
  printSummary(rows, targets, report.durationSeconds)
}

const run = async () => {
  const settings = settingsFrom(flags)
  const selected = (phase: Phase) => settings.only.includes(phase)
  const started = Date.now()
  log(`settings: ${JSON.stringify(settings)}`)
  await ensureBinaries({ log })
  // The Effect 4 edition runs on Node 24 (installed on first use): before anything is measured.
  const node24 = settings.impls.includes("ours4") ? node24Path() : undefined
  // Ours runs as users run it: the built library (dist/, dist/effect4/) on plain node.
  await buildCandidate()
  const loadBefore = os.loadavg()
  const cp = await startControlPlane({ log: (line) => log(`control plane: ${line}`) })
  const bench: Bench = { settings, cp, server: apiServer(cp) }
  const results: Record<string, ProfileResults> = {}
  let lfl: LflResult | undefined
  let floor: FloorResult | undefined
  const editions = settings.impls.filter(isOurs)
  let memory: MemoryResult | undefined
  try {
    // Inside the try: the control plane is stopped if it fails.
    if (selected("memory") && editions.length > 0) memory = measureMemory(editions)
    log("floor: a bare kept-alive client's Lease PUTs and their watch events")
    floor = await measureFloor(cp.adminKubeconfig)
    const needsBaseline = selected("load") || selected("scale") || selected("cost")
    const baseline: Baseline = needsBaseline
      ? await measureBaseline(bench, settings.steadySeconds)
      : { perMinute: {}, openLeaseWatches: 0 }
    for (const name of settings.profiles) {
      const profile = profiles[name]
      const r: ProfileResults = {}
      results[name] = r
      if (selected("graceful")) {
        log(`graceful handover, ${name}`)
        r.graceful = await handover(bench, "graceful", profile)
      }
      if (selected("warm") && editions.length > 0) {
        log(`warm handover, ${name}`)
        r.warm = await warmHandover(bench, profile)
      }
      if (selected("crash")) {
        log(`crash failover, ${name}`)
        r.crash = await handover(bench, "crash", profile)
      }
      // One implementation at a time: the API server's counters are global.
      const oneAtATime = { ...settings, serial: true }
      if (selected("load") || selected("cost") || selected("scale")) {
        r.load = await eachImpl(oneAtATime, settings.impls, (impl) => measureLoad(bench, impl, profile, baseline))
      }
      if (selected("events") && editions.length > 0) {
        log(`per-event CPU of a follower, ${name}`)
        r.events = await measureEvents(bench, profile)
      }
      if (selected("scale")) {
        r.scale = await eachImpl(oneAtATime, settings.impls, (impl) => measureScale(bench, impl, profile, baseline))
      }
    }
    // Leader for life: the Effect 3 edition (its schedule-only twin is bench/lflCandidate.ts, on Effect 3).
    if (selected("lfl") && settings.impls.includes("ours")) {
      log("leader for life")
      lfl = await measureLfl(bench)
    } else if (selected("lfl")) {
      log("leader for life: skipped, it measures the Effect 3 edition (ours), which --impls leaves out")
    }
  } finally {
    await cp.stop({ clean: true })
    bench.server.close()
  }
  const durationSeconds = (Date.now() - started) / 1000
  const report = {
    mode: settings.quick ? "quick" : "full",
    finishedAt: new Date().toISOString(),
    durationSeconds,
    machine: { ...machine(node24), loadAverageAtStart: loadBefore },
    concurrentWork: loadBefore[0]! > 0.5,
    settings,
    results,
    lfl,
    floor,
    memory
  }
  const { rows, targets } = tableAndTargets(report)
  writeResults(JSON.stringify({ ...report, table: rows, targets }, null, 2) + "\n")
  if (!flags["no-docs"]) writeDocs(renderDocs({ ...report, table: rows, targets }, rows, targets))
  printSummary(rows, targets, durationSeconds)
}
;(flags.render !== undefined ? Promise.resolve(render(flags.render)) : run()).then(
  () => process.exit(0),
  (error) => {
    process.stderr.write(`bench failed: ${(error as Error).stack ?? String(error)}\n`)
    process.exit(1)
  }
)
