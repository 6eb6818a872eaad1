/** docs/benchmarks.md: the method, the latest table, the memory table and the targets, rendered from a report. */
import { execFileSync } from "node:child_process"
import { readFileSync, writeFileSync } from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import type { MemoryTable } from "../phases/memory.js"
import { implLabels, impls, implsOf, type Ours } from "../settings.js"
import { fmt, renderTable, type Row } from "./table.js"
import { editionLabel, type Target } from "./targets.js"

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..")

/** The machine and versions a run measured on; `node24`: the Node 24 of the Effect 4 edition, if the run has it. */
export const machine = (node24?: string) => {
  const sh = (cmd: string, args: Array<string>) => {
    try {
      return execFileSync(cmd, args, { stdio: ["ignore", "pipe", "ignore"] }).toString().trim()
    } catch {
      return "n/a"
    }
  }
  const goMod = readFileSync(path.join(repoRoot, "tools/go.mod"), "utf8")
  return {
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? "n/a",
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    loadAverageAtStart: os.loadavg(),
    kernel: os.release(),
    node: process.version,
    ...(node24 === undefined ? {} : { node24: sh(node24, ["--version"]) }),
    go: sh("go", ["version"]),
    clientGo: /k8s\.io\/client-go (v\S+)/.exec(goMod)?.[1] ?? "n/a",
    kubernetes: "v1.36.3 (kube-apiserver, kube-controller-manager), etcd v3.6.8"
  }
}

/** docs/benchmarks.md from a run's report. */
export const renderDocs = (
  report: Record<string, any>,
  rows: Array<Row>,
  targets: Array<Target>
) => {
  const m = report["machine"]
  const s = report["settings"]
  const status = (met: boolean | undefined) => met === undefined ? "not measured" : met ? "met" : "**missed**"
  const mark = (t: Target) => {
    if (t.reportOnly) return "reported"
    const editions = Object.entries(t.editions ?? {}) as Array<[Ours, boolean | undefined]>
    // The editions disagree: each one's status.
    return new Set(editions.map(([, met]) => met)).size > 1
      ? editions.map(([impl, met]) => `${status(met)} (${editionLabel(impl)})`).join(", ")
      : status(t.met)
  }
  const measuredImpls = implsOf(s)
  /** One edition's memory table, or a line saying the run did not measure it. */
  const memoryTable = (title: string, table: MemoryTable | undefined) => {
    if (table === undefined) return `${title}: not measured in this run.\n`
    return [
      `${title}${table.node === undefined ? "" : `, Node ${table.node}`}:`,
      "",
      "| part | MiB | cumulative MiB |",
      "| --- | ---: | ---: |",
      ...[...table.rows, ...table.alternatives].map((row) =>
        `| ${row.part} | ${row.partMiB.toFixed(1)} | ${row.cumulativeMiB.toFixed(1)} |`
      ),
      ""
    ].join("\n")
  }
  return `# Benchmarks

\`npm run bench\` (bench/run.ts; its phases in bench/phases/, the table and this page in bench/report/) starts a
local control plane (etcd, kube-apiserver, the garbage collector: testkit/controlPlane.ts), runs our candidate
in both editions as users run the library (testkit/buildCandidate.ts): the Effect 3 edition (testkit/candidate.ts on
the built \`dist/\`, plain node) and the Effect 4 edition (effect4/testkit/candidate.ts on the built \`dist/effect4/\`
with Effect 4's packages, on Node 24), and client-go's (tools/candidate, \`tools/leaderelection\` with a LeaseLock and
ReleaseOnCancel) with the same settings, measures the floor of this API server in the same run
(bench/phases/floor.ts), prints the table below and writes the raw numbers to \`bench/results/latest.json\`
(\`--keep\` also to a timestamped file).

\`\`\`sh
npm run bench                      # full: 20 trials, 120 s steady state, both profiles, 50 candidates
npm run bench -- --quick           # smoke run: 3 trials, 20 s steady state, 10 candidates
npm run bench -- --profile fast --only graceful,crash --trials 50
npm run bench -- --impls ours4,client-go   # the Effect 4 edition and client-go only
\`\`\`

Flags: \`--trials N\`, \`--steady SECONDS\`, \`--profile default|fast|both\`,
\`--only graceful,warm,crash,lfl,load,scale,cost,events,memory\`,
\`--impls ours,ours4,client-go\` (the implementations measured, default all three: ours is the Effect 3 edition, ours4
the Effect 4 edition), \`--serial\` (the implementations' handover chains one after another, not side by side),
\`--quick\`, \`--scale N\` (candidates in the scale run), \`--parallel N\` (crash-failover trial chains per implementation, default 1),
\`--lfl-trials N\` (schedule-only leader-for-life trials), \`--no-docs\` (leave this file alone),
\`--render FILE\` (rewrite this file and print the table from a results file, without running anything),
\`--merge OTHER\` (with \`--render\`: the phases measured in OTHER replace those of FILE; writes \`latest.json\`),
\`--keep\` (also write the results to \`bench/results/<timestamp>.json\`).

## Latest run

${report["mode"]} run of ${report["finishedAt"]}, ${fmt(report["durationSeconds"])} s wall time.
Machine: ${m.cpus} cores (${m.cpuModel}), ${m.memoryGiB} GiB RAM, Linux ${m.kernel}, Node ${m.node}${
    m.node24 === undefined ? "" : ` (Node ${m.node24} for the Effect 4 edition)`
  },
${m.go}, client-go ${m.clientGo}, Kubernetes ${m.kubernetes}. Load average at the start: ${
    (m.loadAverageAtStart as Array<number>).map((x) => x.toFixed(2)).join(", ")
  }.
${
    (report["merged"] ?? []).map((m: any) =>
      `Merged: ${m.replaced.join(", ")} from the run of ${m.finishedAt} (${m.from}, ${
        fmt(m.durationSeconds)
      } s, load average at its start ${m.loadAverageAtStart[0].toFixed(2)}).\n`
    ).join("")
  }Settings: ${s.trials} trials per handover measure, ${s.steadySeconds} s steady windows (scale: ${
    Math.max(10, Math.round(s.steadySeconds / 2))
  } s), ${s.scaleCount} candidates in the scale run, ${s.parallel} trial chain(s) per implementation${
    s.serial ? " (one implementation at a time)" : ""
  }, profiles ${(s.profiles as Array<string>).join(" and ")}; implementations measured: ${
    measuredImpls.map((impl) => implLabels[impl]).join(", ")
  }${
    impls.some((impl) => !measuredImpls.includes(impl))
      ? `; not measured: ${
        impls.filter((impl) => !measuredImpls.includes(impl)).map((impl) => implLabels[impl]).join(", ")
      }`
      : ""
  }.
${
    report["concurrentWork"]
      ? "\n> This run shared a 2-core machine with other work: latencies and CPU seconds are noisy; re-run on a quiet machine.\n"
      : ""
  }
${renderTable(rows, true)}

Ratios are each edition of ours / client-go, / the floor, / a bare client on the same Node, or / the schedule-only
reference; "not measured": the run did not measure that implementation (\`--impls\`, or a run from before the Effect 4
edition; leader for life is measured for the Effect 3 edition only). Request rates are per minute, from
\`apiserver_request_total\` (resource \`leases\`), with the control plane's own Lease traffic (measured in a window
with no candidate) subtracted.

${
    report["memory"] === undefined ? "" : `## Memory: what each part of a candidate costs

A fresh node process imports the parts one after the other (bench/phases/memory.ts, \`tsx bench/phases/memory.ts\`)
and reports its VmRSS after each, median of three; a running candidate (the cost rows above) also holds its heap. The
alternatives are what the library no longer loads. The Effect 3 edition on the bench's Node, from the repository's
\`node_modules\`; the Effect 4 edition (\`dist/effect4/index.js\`) on Node 24, with Effect 4's packages
(\`effect4/node_modules\`, which \`dist/effect4\` reaches through its \`node_modules\` link).

${memoryTable("Effect 3 edition", report["memory"].rows === undefined ? undefined : report["memory"])}
${memoryTable("Effect 4 edition", report["memory"].effect4)}
`
  }## Targets (ours)

Each target for each edition measured, side by side; met when every edition measured meets it.

| target | profile | measured | status | why |
| --- | --- | --- | --- | --- |
${targets.map((t) => `| ${t.target} | ${t.profile} | ${t.value} | ${mark(t)} | ${t.reason} |`).join("\n")}

## Notes

- Every number of ours is for our candidate as users run the library: the built \`dist/\` (Effect 3) or \`dist/effect4/\`
  (Effect 4, on Node 24) on plain node (the candidate's own few lines bundled by esbuild), no TypeScript loader;
  client-go's candidate is a static Go binary. The CPU seconds *in the window* are the steady-state cost.
- Our candidate holds one Lease watch, shared by its election and its \`leaderChanges\` subscriber (which feeds its
  \`new_leader\` lines). Watches are not requests, so they do not show in the request rates, but every renew is sent
  down every open watch: the "open Lease watches" rows show that cost, which grows with the number of candidates
  where client-go's grows in polls.
- **The floor** (bench/phases/floor.ts): a bare Node client with a kept-alive \`https.Agent\` PUTs a Lease 60 times; a watch
  on another connection times each event. A graceful handover cannot beat the release's event plus the next PUT;
  a follower that saw the release, one PUT; a crash takeover past the expiry, one PUT.
- **Cold and warm**: the graceful rows are cold, the first acquisition of a fresh follower process (its code runs for
  the first time); the warm rows hand over between two processes that have both led before (SIGUSR2: the leader
  releases and enters the election again once the other leads, \`--step-down-on-usr2\`).
- client-go's follower polls with a GET every retryPeriod x U(1, 2.2); a graceful handover waits for its next poll
  after the release, and after a crash it times the expiry from the poll that saw the last renew, so its excess is
  up to two polls. Ours watches: it sees the release, or times the expiry from the renew itself.
- Time to the first leader "from spawn" is dominated by N processes starting at once on the machine's cores (Node
  and tsx for ours); "from ready" is the election, though still slowed while the other candidates start.
- Latencies of a few tens of milliseconds are sensitive to CPU contention: every step (the signal, the release, the
  watch event, the follower's write) needs a process to be scheduled. Compare runs on a quiet machine.

## Method

- **Graceful handover**: the holder gets SIGTERM and releases (holder "" and leaseDurationSeconds 1); measured from the
  signal to the follower's \`started_leading\` (CLOCK_MONOTONIC on both sides). The follower is started fresh each
  trial and the signal comes after it has seen the leader plus a random delay U(0.5 s, 0.5 s + 2.2 x retryPeriod),
  so the signal falls at a random phase of the leader's renew cycle and of client-go's poll. Same-implementation
  pairs; the follower of one trial is the holder of the next.
- **Crash failover**: the holder gets SIGKILL at a random moment U(0, 1.2 x retryPeriod) after its first renew
  that follows the follower's first look at the Lease (until then a follower can only count from its first look,
  however old the record: that is the protocol, not a delay of the implementation). The bench watches the Leases itself and records when each write of the
  holder arrived; the excess is \`started_leading - (last write of the dead holder seen on the watch + leaseDuration)\`,
  i.e. how late after the earliest safe moment the follower took over. "From SIGKILL" is the raw time from the kill.
- **Leader for life** (the Effect 3 edition only): ours with \`--lock configmap\`; the holder is SIGKILLed (no release) and its Pod deleted at once;
  measured from the Pod's DELETE to the next holder's \`started_leading\`, which needs the garbage collector to delete
  the ConfigMap and the follower to see it. "Schedule only" runs bench/lflCandidate.ts: our candidate with the
  ConfigMap and Pod watches disabled (the services' \`watch\` never emits), so the follower wakes only on the default
  retry schedule (1, 2, 4, 8, 16, 30, 30 ... s, jittered), as zio-k8s and operator-lib do; its follower waited
  U(${s.lflWait[0]} s, ${s.lflWait[1]} s) before the delete. The model rows draw 100 000 freeing moments
  (${
    report["lfl"]?.model.assumption ?? "-"
  }) for zio-k8s' schedule and operator-lib's (1 s doubling to 16 s, jitter 0.2).
  Leader for life does not depend on the Lease profile, so it is measured once.
- **API load**: one candidate leads alone for a window, then a follower joins for a second window;
  \`apiserver_request_total\` is sampled before and after each. Leader = first window; follower = second minus first.
  A watch is counted only when it ends, so a steady watch costs nothing here (ours: one per candidate).
- **Scale**: N candidates of one implementation on one Lease; first leader measured from the spawn of all and from
  the first candidate's \`ready\`; the request rate over a window after all have seen the leader, compared with the
  leader + follower rate of the load run.
- **Cost**: VmRSS and utime + stime from /proc of each candidate process at the end of its window (with any child
  processes; the CPU seconds in the window exclude start-up). Per renew and per leader write: the CPU seconds in
  the window over the leader's PUTs in it (\`apiserver_request_total\`); a follower of ours receives each as one
  watch event, a follower of client-go polls instead.
- **CPU per watch event**: the bench holds a Lease itself and renews it, for one window at the profile's
  retryPeriod and for another every 40 ms; a follower's extra CPU seconds in the second window over its extra events
  is what one event costs it (reading, decoding, the observer, whatever the event wakes), the idle costs cancelling
  out. The same for a bare Node client that watches the Lease and parses each event (bench/bareWatcher.mjs): the
  floor, on the Node of each edition (the bench's for Effect 3, Node 24 for Effect 4). client-go's follower receives
  no events (it polls), so it has no such figure.
- The implementations' handover chains (and the editions' warm pairs) run at the same time on different Leases
  (\`--serial\`: one implementation after another); the load, scale and events windows run one implementation at a
  time (the API server's counters are global, the CPU is per process).
`
}

/** Writes docs/benchmarks.md, formatted as the repository formats Markdown (so `fmt:check` stays green). */
export const writeDocs = (markdown: string) => {
  const file = path.join(repoRoot, "docs/benchmarks.md")
  writeFileSync(file, markdown)
  execFileSync(path.join(repoRoot, "scripts/dprint.sh"), ["fmt", file], { stdio: "ignore" })
}
