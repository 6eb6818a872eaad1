/**
 * The package's entry points: the root, and one subpath per public module (`effect-k8s-leader/LeaderElection`, ...),
 * so that a program that needs one module loads no more. The pack test (scripts/pack-test.sh) imports each from the
 * installed tarball; this keeps the map complete as modules come and go.
 */
import { describe, expect, it } from "@effect/vitest"
import { readdirSync, readFileSync } from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")
const pkg = JSON.parse(readFileSync(path.join(root, "package.json"), "utf8")) as {
  exports: Record<string, string | { types: string; import: string }>
}
const publicModules = readdirSync(path.join(root, "src"))
  .filter((file) => file.endsWith(".ts") && file !== "index.ts")
  .map((file) => file.slice(0, -".ts".length))
  .sort()

describe("package exports", () => {
  it("has one subpath per public module of src/, to its built module and its types", () => {
    const subpaths = Object.keys(pkg.exports).filter((key) => key !== "." && key !== "./package.json").sort()
    expect(subpaths).toEqual(publicModules.map((module) => `./${module}`))
    for (const module of publicModules) {
      expect(pkg.exports[`./${module}`]).toEqual({ types: `./dist/${module}.d.ts`, import: `./dist/${module}.js` })
    }
  })

  it("re-exports every public module from the root", () => {
    const index = readFileSync(path.join(root, "src/index.ts"), "utf8")
    for (const module of publicModules) expect(index).toContain(`from "./${module}.js"`)
  })
})
