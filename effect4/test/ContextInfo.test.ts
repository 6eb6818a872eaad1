import { describe, expect, it } from "@effect/vitest"
import { ConfigProvider, Effect, FileSystem, Layer, PlatformError } from "effect"
import { ContextInfo, serviceAccountNamespaceFile } from "../../src/effect4/ContextInfo.js"
import { ContextInfoError } from "../../src/effect4/errors.js"

/** The environment as a config provider, like `process.env` with only these variables. */
const env = (variables: Record<string, string>) => ConfigProvider.fromEnv({ env: variables })

/** A file system that holds only the service-account namespace file, when given its content. */
const fileSystem = (namespaceFile: string | undefined) => {
  const reads: Array<string> = []
  const layer = FileSystem.layerNoop({
    readFileString: (path) => {
      reads.push(path)
      return path === serviceAccountNamespaceFile && namespaceFile !== undefined
        ? Effect.succeed(namespaceFile)
        : Effect.fail(
          PlatformError.systemError({
            _tag: "NotFound",
            module: "FileSystem",
            method: "readFileString",
            pathOrDescriptor: path
          })
        )
    }
  })
  return { layer, reads }
}

const live = (variables: Record<string, string>, namespaceFile?: string) => {
  const fs = fileSystem(namespaceFile)
  return {
    reads: fs.reads,
    context: ContextInfo.pipe(
      Effect.provide(ContextInfo.live.pipe(Layer.provide(fs.layer))),
      Effect.provideService(ConfigProvider.ConfigProvider, env(variables))
    )
  }
}

describe("ContextInfo.live", () => {
  it.effect("reads POD_NAME and POD_NAMESPACE", () =>
    Effect.gen(function*() {
      const { context, reads } = live({ POD_NAME: "op-0", POD_NAMESPACE: "team-a", NAMESPACE: "wrong" }, "wrong-too")
      expect(yield* context).toEqual({ podName: "op-0", namespace: "team-a" })
      expect(reads).toEqual([])
    }))

  it.effect("falls back to NAMESPACE when POD_NAMESPACE is not set", () =>
    Effect.gen(function*() {
      const { context, reads } = live({ POD_NAME: "op-0", NAMESPACE: "team-b" }, "wrong")
      expect(yield* context).toEqual({ podName: "op-0", namespace: "team-b" })
      expect(reads).toEqual([])
    }))

  it.effect("an empty POD_NAMESPACE counts as unset", () =>
    Effect.gen(function*() {
      const { context } = live({ POD_NAME: "op-0", POD_NAMESPACE: "", NAMESPACE: "team-b" })
      expect((yield* context).namespace).toBe("team-b")
    }))

  it.effect("falls back to the service-account file, trimmed", () =>
    Effect.gen(function*() {
      const { context, reads } = live({ POD_NAME: "op-0" }, "team-c\n")
      expect(yield* context).toEqual({ podName: "op-0", namespace: "team-c" })
      expect(reads).toEqual(["/var/run/secrets/kubernetes.io/serviceaccount/namespace"])
    }))

  it.effect("no namespace anywhere fails with ContextInfoError missing namespace", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(live({ POD_NAME: "op-0" }).context)
      expect(error).toBeInstanceOf(ContextInfoError)
      expect(error._tag).toBe("ContextInfoError")
      if (error._tag !== "ContextInfoError") return
      expect(error.missing).toBe("namespace")
      expect(error.message).toContain("POD_NAMESPACE")
      expect(error.message).toContain(serviceAccountNamespaceFile)
      expect(error.message).toContain("fieldPath: metadata.namespace")
    }))

  it.effect("an empty service-account file is no namespace", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(live({ POD_NAME: "op-0" }, "  \n").context)
      expect(error).toBeInstanceOf(ContextInfoError)
      expect((error as ContextInfoError).missing).toBe("namespace")
    }))

  it.effect("a missing POD_NAME fails with ContextInfoError saying to set it, with the downward-API snippet", () =>
    Effect.gen(function*() {
      for (const variables of [{ POD_NAMESPACE: "team-a" }, { POD_NAME: "", POD_NAMESPACE: "team-a" }]) {
        const error = yield* Effect.flip(live(variables, "team-a").context)
        expect(error).toBeInstanceOf(ContextInfoError)
        if (error._tag !== "ContextInfoError") return
        expect(error.missing).toBe("POD_NAME")
        expect(error.message).toContain("POD_NAME is not set")
        expect(error.message).toContain("- name: POD_NAME")
        expect(error.message).toContain("valueFrom:")
        expect(error.message).toContain("fieldRef:")
        expect(error.message).toContain("fieldPath: metadata.name")
      }
    }))
})

describe("ContextInfo.liveForcedNamespace", () => {
  it.effect("takes POD_NAME from the environment and ignores the namespace variables", () =>
    Effect.gen(function*() {
      const info = yield* ContextInfo.pipe(
        Effect.provide(ContextInfo.liveForcedNamespace("forced")),
        Effect.provideService(ConfigProvider.ConfigProvider, env({ POD_NAME: "op-1", POD_NAMESPACE: "other" }))
      )
      expect(info).toEqual({ podName: "op-1", namespace: "forced" })
    }))

  it.effect("fails with ContextInfoError when POD_NAME is missing", () =>
    Effect.gen(function*() {
      const error = yield* ContextInfo.pipe(
        Effect.provide(ContextInfo.liveForcedNamespace("forced")),
        Effect.provideService(ConfigProvider.ConfigProvider, env({})),
        Effect.flip
      )
      expect(error).toBeInstanceOf(ContextInfoError)
      expect(error.missing).toBe("POD_NAME")
    }))

  it.effect("works with ConfigProvider.layer", () =>
    Effect.gen(function*() {
      const info = yield* ContextInfo.pipe(
        Effect.provide(
          ContextInfo.liveForcedNamespace("forced").pipe(
            Layer.provide(ConfigProvider.layer(env({ POD_NAME: "op-2" })))
          )
        )
      )
      expect(info).toEqual({ podName: "op-2", namespace: "forced" })
    }))
})

describe("ContextInfo.test", () => {
  it.effect("provides the given values", () =>
    Effect.gen(function*() {
      const info = yield* Effect.provide(ContextInfo, ContextInfo.test({ namespace: "ns", podName: "p" }))
      expect(info).toEqual({ namespace: "ns", podName: "p" })
    }))
})
