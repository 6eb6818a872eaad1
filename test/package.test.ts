/**
 * The package's entry points: per edition, the root (`effect-k8s-leader`, `effect-k8s-leader/effect4`) and one
 * subpath per public module (`effect-k8s-leader/LeaderElection`, `effect-k8s-leader/effect4/LeaderElection`, ...), so
 * that a program that needs one module loads no more. The pack test (scripts/pack-test.sh) imports each from the
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
const modulesOf = (dir: string) =>
  readdirSync(path.join(root, dir))
    .filter((file) => file.endsWith(".ts") && file !== "index.ts")
    .map((file) => file.slice(0, -".ts".length))
    .sort()

const editions = [
  { name: "Effect 3", src: "src", subpath: ".", dist: "./dist" },
  { name: "Effect 4", src: "src/effect4", subpath: "./effect4", dist: "./dist/effect4" }
] as const

describe("package exports", () => {
  it("has the two editions' roots, and nothing but their modules", () => {
    expect(pkg.exports["."]).toEqual({ types: "./dist/index.d.ts", import: "./dist/index.js" })
    expect(pkg.exports["./effect4"]).toEqual({ types: "./dist/effect4/index.d.ts", import: "./dist/effect4/index.js" })
    const expected = editions.flatMap((edition) => [
      ...(edition.subpath === "." ? ["."] : [edition.subpath]),
      ...modulesOf(edition.src).map((module) => `${edition.subpath}/${module}`)
    ])
    expect(Object.keys(pkg.exports).filter((key) => key !== "./package.json").sort()).toEqual(expected.sort())
  })

  it("both editions have the same public modules", () => {
    expect(modulesOf("src/effect4")).toEqual(modulesOf("src"))
  })

  for (const edition of editions) {
    it(`${edition.name}: one subpath per public module of ${edition.src}/, to its built module and its types`, () => {
      for (const module of modulesOf(edition.src)) {
        expect(pkg.exports[`${edition.subpath}/${module}`]).toEqual({
          types: `${edition.dist}/${module}.d.ts`,
          import: `${edition.dist}/${module}.js`
        })
      }
    })

    it(`${edition.name}: the root re-exports every public module`, () => {
      const index = readFileSync(path.join(root, edition.src, "index.ts"), "utf8")
      for (const module of modulesOf(edition.src)) expect(index).toContain(`from "./${module}.js"`)
    })
  }
})

describe("what the editions share", () => {
  const read = (file: string) => readFileSync(path.join(root, file), "utf8")
  const sourcesOf = (dir: string): Array<string> =>
    readdirSync(path.join(root, dir), { withFileTypes: true }).flatMap((entry) =>
      entry.isDirectory()
        ? entry.name === "node_modules" ? [] : sourcesOf(`${dir}/${entry.name}`)
        : entry.name.endsWith(".ts")
        ? [`${dir}/${entry.name}`]
        : []
    )
  const relativeImports = (file: string): Array<string> =>
    [...read(file).matchAll(/from "(\.[^"]+)\.js"/g)]
      .map((match) => path.relative(root, path.resolve(path.dirname(path.join(root, file)), `${match[1]}.ts`)))
  /** The modules outside src/effect4 that the Effect 4 edition loads, directly or through each other. */
  const sharedModules = (() => {
    const found = new Set<string>()
    let next = sourcesOf("src/effect4").flatMap(relativeImports).filter((file) => !file.startsWith("src/effect4/"))
    while (next.length > 0) {
      const fresh = next.filter((file) => !found.has(file))
      for (const file of fresh) found.add(file)
      next = fresh.flatMap(relativeImports)
    }
    return [...found].sort()
  })()

  it("the Effect 4 edition imports only Effect-free modules from outside src/effect4", () => {
    expect(sharedModules.length).toBeGreaterThan(0)
    for (const module of sharedModules) {
      expect(module.startsWith("src/internal/"), module).toBe(true)
      expect(read(module), module).not.toMatch(/from "(effect|@effect\/[^"]+)(\/[^"]*)?"/)
    }
  })

  it("the Effect 3 edition imports nothing of the Effect 4 edition", () => {
    for (const file of sourcesOf("src").filter((file) => !file.startsWith("src/effect4/"))) {
      expect(read(file), file).not.toMatch(/from "[^"]*effect4[^"]*"/)
    }
  })
})
