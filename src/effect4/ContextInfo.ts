/**
 * Who this replica is: its Pod's name and namespace.
 *
 * @since 0.1.0
 */
import { Config, Context, Effect, FileSystem, Layer, Option } from "effect"
import { ContextInfoError } from "./errors.js"

/**
 * The file every Pod with a service account has, holding its namespace.
 *
 * @since 0.1.0
 */
export const serviceAccountNamespaceFile = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"

const downwardApiSnippet = `Set it from the downward API in the Pod spec:
  env:
    - name: POD_NAME
      valueFrom:
        fieldRef:
          fieldPath: metadata.name
    - name: POD_NAMESPACE
      valueFrom:
        fieldRef:
          fieldPath: metadata.namespace`

const optionalEnv = (name: string) =>
  Config.option(Config.NonEmptyString(name)).pipe(Effect.orElseSucceed(() => Option.none<string>()))

const podName = optionalEnv("POD_NAME").pipe(
  Effect.flatMap(Option.match({
    onNone: () =>
      Effect.fail(
        new ContextInfoError({
          missing: "POD_NAME",
          detail:
            `The environment variable POD_NAME is not set: leader election needs this Pod's name. ${downwardApiSnippet}`
        })
      ),
    onSome: Effect.succeed
  }))
)

const namespaceFromEnvOrFile = Effect.gen(function*() {
  for (const name of ["POD_NAMESPACE", "NAMESPACE"]) {
    const value = yield* optionalEnv(name)
    if (Option.isSome(value)) return value.value
  }
  const fs = yield* FileSystem.FileSystem
  const fromFile = yield* fs.readFileString(serviceAccountNamespaceFile).pipe(
    Effect.map((text) => text.trim()),
    Effect.option
  )
  if (Option.isSome(fromFile) && fromFile.value.length > 0) return fromFile.value
  return yield* new ContextInfoError({
    missing: "namespace",
    detail:
      `No namespace: POD_NAMESPACE and NAMESPACE are not set and ${serviceAccountNamespaceFile} cannot be read. ${downwardApiSnippet}`
  })
})

/**
 * This replica's Pod name and namespace.
 *
 * @since 0.1.0
 */
export class ContextInfo extends Context.Service<ContextInfo, {
  readonly namespace: string
  readonly podName: string
}>()("effect-k8s-leader/ContextInfo") {
  /**
   * `POD_NAME` from the environment; the namespace from `POD_NAMESPACE`, then `NAMESPACE`, then the
   * service-account namespace file. Fails with `ContextInfoError` saying what to set.
   *
   * @since 0.1.0
   */
  static readonly live: Layer.Layer<ContextInfo, ContextInfoError, FileSystem.FileSystem> = Layer.effect(
    ContextInfo,
    Effect.gen(function*() {
      const name = yield* podName
      const namespace = yield* namespaceFromEnvOrFile
      return { namespace, podName: name }
    })
  )

  /**
   * `POD_NAME` from the environment and the given namespace.
   *
   * @since 0.1.0
   */
  static liveForcedNamespace(namespace: string): Layer.Layer<ContextInfo, ContextInfoError> {
    return Layer.effect(ContextInfo, Effect.map(podName, (name) => ({ namespace, podName: name })))
  }

  /**
   * Fixed values, for tests and for programs that know who they are.
   *
   * @since 0.1.0
   */
  static test(info: { readonly namespace: string; readonly podName: string }): Layer.Layer<ContextInfo> {
    return Layer.succeed(ContextInfo, info)
  }
}
