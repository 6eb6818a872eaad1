/**
 * Type-checks every TypeScript code block of README.md and docs/*.md, so that the documentation cannot rot.
 *
 *   npm run docs:check        (tsx scripts/check-docs.ts)
 *
 * Each ```ts / ```typescript block is written to its own file under .docs-check/ (git-ignored) and compiled as its
 * own module with the repository's compiler options (strict, exactOptionalPropertyTypes), where the import
 * "effect-k8s-leader" resolves to ./src/index.ts. A block that imports "effect-k8s-leader/effect4" is the Effect 4
 * edition's: it goes to effect4/.docs-check/, where `effect` is Effect 4 and the import resolves to
 * ./src/effect4/index.ts. Nothing is wrapped or rewritten: a block must be a complete module
 * with its own imports. Doc snippets may declare values they do not use, so only `noUnusedLocals` and
 * `noUnusedParameters` (lints, not type rules) are off.
 *
 * A block that is a fragment on purpose is marked by an HTML comment on the line before its fence (blank lines
 * between are allowed):
 *
 *   <!-- not-checked: the shape of the service, quoted from src/InMemoryCluster.ts -->
 *
 * It is skipped and reported with its reason. A marker without a reason, or not followed by a TypeScript block, is
 * an error. Exit code 1 on any error, with the file:line of the block.
 */
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import ts from "typescript"

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")
const outDir = path.join(root, ".docs-check")
const outDir4 = path.join(root, "effect4/.docs-check")
const languages = new Set(["ts", "typescript"])
const markerPattern = /^<!--\s*not-checked\s*:?(.*?)-->\s*$/

interface Block {
  /** The markdown file, relative to the repository. */
  readonly file: string
  /** The line of the opening fence, 1-based. */
  readonly line: number
  readonly code: string
}

interface Skipped {
  readonly file: string
  readonly line: number
  readonly reason: string
}

const problems: Array<string> = []

/** README.md, then docs/*.md in name order. */
const markdownFiles = (): ReadonlyArray<string> => {
  const docs = fs.readdirSync(path.join(root, "docs"))
    .filter((name) => name.endsWith(".md"))
    .sort()
    .map((name) => `docs/${name}`)
  return ["README.md", ...docs]
}

/** The fenced code blocks of one markdown file, with the not-checked markers before them. */
const extract = (file: string): { readonly blocks: ReadonlyArray<Block>; readonly skipped: ReadonlyArray<Skipped> } => {
  const lines = fs.readFileSync(path.join(root, file), "utf8").split(/\r?\n/)
  const blocks: Array<Block> = []
  const skipped: Array<Skipped> = []
  let pendingMarker: { readonly line: number; readonly reason: string } | undefined
  for (let index = 0; index < lines.length; index++) {
    const text = lines[index]!
    const trimmed = text.trim()
    const marker = markerPattern.exec(trimmed)
    if (marker !== null) {
      const reason = marker[1]!.trim()
      if (reason.length === 0) problems.push(`${file}:${index + 1}: a not-checked marker needs a reason`)
      pendingMarker = { line: index + 1, reason }
      continue
    }
    const fence = /^(`{3,}|~{3,})\s*([^\s`]*)/.exec(trimmed)
    if (fence === null) {
      if (trimmed.length > 0 && pendingMarker !== undefined) {
        problems.push(`${file}:${pendingMarker.line}: a not-checked marker must come right before a TypeScript block`)
        pendingMarker = undefined
      }
      continue
    }
    // A code block: find its closing fence (same character, at least as long).
    const open = fence[1]!
    const language = fence[2]!.toLowerCase()
    const indent = text.length - text.trimStart().length
    const body: Array<string> = []
    let end = index + 1
    while (end < lines.length) {
      const closing = lines[end]!.trim()
      if (closing.startsWith(open[0]!.repeat(open.length)) && closing.replace(/[`~]/g, "").length === 0) break
      body.push(lines[end]!.slice(Math.min(indent, lines[end]!.length - lines[end]!.trimStart().length)))
      end++
    }
    if (end >= lines.length) problems.push(`${file}:${index + 1}: a code block that is never closed`)
    if (languages.has(language)) {
      if (pendingMarker !== undefined) {
        skipped.push({ file, line: index + 1, reason: pendingMarker.reason })
      } else {
        blocks.push({ file, line: index + 1, code: body.join("\n") + "\n" })
      }
    } else if (pendingMarker !== undefined) {
      problems.push(
        `${file}:${pendingMarker.line}: a not-checked marker must come right before a TypeScript block, not "${language}"`
      )
    }
    pendingMarker = undefined
    index = end
  }
  if (pendingMarker !== undefined) {
    problems.push(`${file}:${pendingMarker.line}: a not-checked marker at the end of the file`)
  }
  return { blocks, skipped }
}

const blocks: Array<Block> = []
const skipped: Array<Skipped> = []
const files = markdownFiles()
for (const file of files) {
  const found = extract(file)
  blocks.push(...found.blocks)
  skipped.push(...found.skipped)
}

/**
 * The Effect 4 edition's blocks (those that import `effect-k8s-leader/effect4`) are compiled under effect4/, where
 * `effect` resolves to Effect 4 (scripts/effect4.sh links it); the others here, on Effect 3.
 */
const isEffect4 = (block: Block): boolean => /from "effect-k8s-leader\/effect4(\/[A-Za-z]+)?"/.test(block.code)

const byPath = new Map<string, Block>()

/** Writes one module per block and a tsconfig extending `extendsConfig` into `dir`; returns the tsconfig's path. */
const writeProgram = (
  dir: string,
  extendsConfig: string,
  paths: Record<string, ReadonlyArray<string>>,
  ofEdition: ReadonlyArray<Block>
): string => {
  fs.rmSync(dir, { recursive: true, force: true })
  fs.mkdirSync(dir, { recursive: true })
  for (const block of ofEdition) {
    const name = `${block.file.replace(/\.md$/, "").replace(/[^A-Za-z0-9]+/g, "_")}_L${block.line}.ts`
    const target = path.join(dir, name)
    fs.writeFileSync(target, block.code)
    byPath.set(path.normalize(target), block)
  }
  const tsconfigPath = path.join(dir, "tsconfig.json")
  fs.writeFileSync(
    tsconfigPath,
    JSON.stringify(
      {
        extends: extendsConfig,
        compilerOptions: {
          noEmit: true,
          strict: true,
          exactOptionalPropertyTypes: true,
          // Every block is a module of its own, even one without an import or export.
          moduleDetection: "force",
          // Lints, not type rules: a snippet may show a declaration without using it.
          noUnusedLocals: false,
          noUnusedParameters: false,
          paths
        },
        include: ["./*.ts"]
      },
      null,
      2
    ) + "\n"
  )
  return tsconfigPath
}

const where = (diagnostic: ts.Diagnostic): string => {
  if (diagnostic.file === undefined || diagnostic.start === undefined) return "(no file)"
  const { character, line } = diagnostic.file.getLineAndCharacterOfPosition(diagnostic.start)
  const block = byPath.get(path.normalize(diagnostic.file.fileName))
  if (block === undefined) return `${path.relative(root, diagnostic.file.fileName)}:${line + 1}:${character + 1}`
  // The block's first code line is the line after its fence.
  return `${block.file}:${block.line + 1 + line}:${character + 1} (block at ${block.file}:${block.line})`
}

let errors = 0
const check = (tsconfigPath: string, count: number) => {
  const config = ts.getParsedCommandLineOfConfigFile(tsconfigPath, {}, {
    ...ts.sys,
    onUnRecoverableConfigFileDiagnostic: (diagnostic) => {
      problems.push(ts.flattenDiagnosticMessageText(diagnostic.messageText, "\n"))
    }
  })
  if (config === undefined || count === 0) return
  const program = ts.createProgram({ rootNames: config.fileNames, options: config.options })
  const diagnostics = ts.getPreEmitDiagnostics(program)
    .filter((diagnostic) => diagnostic.category === ts.DiagnosticCategory.Error)
  for (const diagnostic of diagnostics) {
    errors++
    problems.push(
      `${where(diagnostic)}: TS${diagnostic.code}: ${ts.flattenDiagnosticMessageText(diagnostic.messageText, "\n")}`
    )
  }
}

const effect3Blocks = blocks.filter((block) => !isEffect4(block))
const effect4Blocks = blocks.filter(isEffect4)
check(
  writeProgram(outDir, "../tsconfig.json", {
    "effect-k8s-leader": ["../src/index.ts"],
    "effect-k8s-leader/*": ["../src/*.ts"]
  }, effect3Blocks),
  effect3Blocks.length
)
if (effect4Blocks.length > 0) execFileSync(path.join(root, "scripts/effect4.sh"), ["setup"], { stdio: "inherit" })
check(
  writeProgram(outDir4, "../tsconfig.json", {
    "effect-k8s-leader/effect4": ["../../src/effect4/index.ts"],
    "effect-k8s-leader/effect4/*": ["../../src/effect4/*.ts"]
  }, effect4Blocks),
  effect4Blocks.length
)

for (const skip of skipped) console.log(`skipped ${skip.file}:${skip.line}: ${skip.reason}`)
const perFile = files
  .map((file) => [file, blocks.filter((block) => block.file === file).length] as const)
  .filter(([, count]) => count > 0)
  .map(([file, count]) => `${file} ${count}`)
  .join(", ")
console.log(
  `checked ${blocks.length} TypeScript blocks (${perFile}; ${effect4Blocks.length} of the Effect 4 edition); skipped ${skipped.length}`
)
if (problems.length > 0) {
  for (const problem of problems) console.error(problem)
  console.error(`docs:check failed: ${problems.length} problem(s)${errors > 0 ? `, ${errors} type error(s)` : ""}`)
  process.exit(1)
}
console.log("docs:check passed")
