/**
 * The candidates as users run them: the built library (`dist/`, `npm run build`) on plain node, without tsx. Each
 * candidate's own code (testkit/candidate.ts for Effect 3, effect4/testkit/candidate.ts for Effect 4, and what they
 * import outside src/) is bundled into `.build/candidate.mjs` and `effect4/.build/candidate.mjs`; the library stays
 * an import of `dist/index.js` or `dist/effect4/index.js`, and packages stay imports of node_modules. The Effect 4
 * candidate lives under effect4/ so that `effect` resolves to Effect 4 there, and `dist/effect4/node_modules` links
 * to the same install (scripts/effect4.sh) for the built library.
 *
 *   tsx testkit/buildCandidate.ts     # builds dist/ and both candidates
 */
import { build } from "esbuild"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")

/** The built candidates' paths, per edition of Effect. */
export const builtCandidate = path.join(root, ".build/candidate.mjs")
export const builtCandidateEffect4 = path.join(root, "effect4/.build/candidate.mjs")

const bundle = (entry: string, outfile: string, library: RegExp, builtLibrary: string) =>
  build({
    entryPoints: [path.join(root, entry)],
    outfile,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    packages: "external",
    logLevel: "warning",
    plugins: [{
      name: "the-built-library",
      setup: (build) => {
        build.onResolve({ filter: library }, () => ({ path: builtLibrary, external: true }))
      }
    }]
  })

/** Builds the library (tsc, both editions) and both candidates; about 10 s. */
export const buildCandidate = async (): Promise<string> => {
  execFileSync("npm", ["run", "--silent", "build"], { cwd: root, stdio: "inherit" })
  // Not part of `npm run build`, so that `npm pack` after a build never sees it.
  const link = path.join(root, "dist/effect4/node_modules")
  fs.rmSync(link, { force: true })
  fs.symlinkSync("../../effect4/node_modules", link)
  await bundle("testkit/candidate.ts", builtCandidate, /(^|\/)src\/index\.js$/, "../dist/index.js")
  await bundle(
    "effect4/testkit/candidate.ts",
    builtCandidateEffect4,
    /(^|\/)src\/effect4\/index\.js$/,
    "../../dist/effect4/index.js"
  )
  return builtCandidate
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  await buildCandidate()
  process.stdout.write(`${path.relative(root, builtCandidate)}\n${path.relative(root, builtCandidateEffect4)}\n`)
}
