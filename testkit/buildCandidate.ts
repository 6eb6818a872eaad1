/**
 * The candidate as users run it: the built library (`dist/`, `npm run build`) on plain node, without tsx. The
 * candidate's own code (testkit/candidate.ts and what it imports outside src/) is bundled into
 * `.build/candidate.mjs`; the library stays an import of `dist/index.js`, and packages stay imports of node_modules.
 *
 *   tsx testkit/buildCandidate.ts     # builds dist/ and .build/candidate.mjs
 */
import { build } from "esbuild"
import { execFileSync } from "node:child_process"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")

/** The built candidate's path. */
export const builtCandidate = path.join(root, ".build/candidate.mjs")

/** Builds the library (tsc) and the candidate; about 5 s. */
export const buildCandidate = async (): Promise<string> => {
  execFileSync("npm", ["run", "--silent", "build"], { cwd: root, stdio: "inherit" })
  await build({
    entryPoints: [path.join(root, "testkit/candidate.ts")],
    outfile: builtCandidate,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    packages: "external",
    logLevel: "warning",
    plugins: [{
      name: "the-built-library",
      setup: (build) => {
        build.onResolve({ filter: /(^|\/)src\/index\.js$/ }, () => ({ path: "../dist/index.js", external: true }))
      }
    }]
  })
  return builtCandidate
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  await buildCandidate()
  process.stdout.write(`${path.relative(root, builtCandidate)}\n`)
}
