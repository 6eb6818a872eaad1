/**
 * The connection to a Kubernetes API server: client-node's `KubeConfig` for credentials, and one request
 * path over a kept-alive connection where every request is bounded, interruptible and aborted on interruption.
 *
 * @since 0.1.0
 */
import { KubeConfig } from "@kubernetes/client-node"
import { Context, Duration, Effect, Layer, type Stream } from "effect"
import { KubeConfigError } from "./errors.js"
import { type HttpRequest, makeTransport } from "./internal/http.js"
import type { K8sError } from "./K8sError.js"

/**
 * @since 0.1.0
 */
export type K8sRequest = HttpRequest

/**
 * @since 0.1.0
 */
export interface K8sClientOptions {
  /** The longest any single request may take before it is aborted with a `Timeout` error. Default 30 seconds. */
  readonly requestTimeout?: Duration.DurationInput | undefined
}

/**
 * @since 0.1.0
 */
export class K8sClient extends Context.Tag("effect-k8s-leader/K8sClient")<K8sClient, {
  readonly kubeConfig: KubeConfig
  /** One JSON request; the parsed body on 2xx, a `K8sError` otherwise. */
  readonly request: (request: K8sRequest) => Effect.Effect<unknown, K8sError>
  /** A watch request: one parsed JSON value per line, until the server ends the response. */
  readonly watch: (request: K8sRequest) => Stream.Stream<unknown, K8sError>
}>() {
  /**
   * A client for the given configuration. Its connections are closed when the layer's scope closes.
   *
   * @since 0.1.0
   */
  static fromKubeConfig(kubeConfig: KubeConfig, options?: K8sClientOptions): Layer.Layer<K8sClient, KubeConfigError> {
    return Layer.scoped(
      K8sClient,
      Effect.acquireRelease(
        Effect.try({
          try: () => {
            const transport = makeTransport(kubeConfig, Duration.decode(options?.requestTimeout ?? "30 seconds"))
            return { kubeConfig, transport }
          },
          catch: (cause) => new KubeConfigError({ source: "the given KubeConfig", cause })
        }),
        ({ transport }) => Effect.sync(transport.close)
      ).pipe(Effect.map(({ kubeConfig, transport }) => K8sClient.of({ kubeConfig, ...transport })))
    )
  }

  /**
   * The default configuration: `$KUBECONFIG`, `~/.kube/config`, then the in-cluster service account.
   *
   * @since 0.1.0
   */
  static readonly layer: Layer.Layer<K8sClient, KubeConfigError> = Layer.unwrapEffect(
    Effect.try({
      try: () => {
        const kubeConfig = new KubeConfig()
        kubeConfig.loadFromDefault()
        return K8sClient.fromKubeConfig(kubeConfig)
      },
      catch: (cause) => new KubeConfigError({ source: "$KUBECONFIG, ~/.kube/config or the service account", cause })
    })
  )

  /**
   * A client for the kubeconfig file at `path`.
   *
   * @since 0.1.0
   */
  static fromFile(path: string, options?: K8sClientOptions): Layer.Layer<K8sClient, KubeConfigError> {
    return Layer.unwrapEffect(Effect.try({
      try: () => {
        const kubeConfig = new KubeConfig()
        kubeConfig.loadFromFile(path)
        return K8sClient.fromKubeConfig(kubeConfig, options)
      },
      catch: (cause) => new KubeConfigError({ source: path, cause })
    }))
  }
}
