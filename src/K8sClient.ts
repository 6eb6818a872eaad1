/**
 * The connection to a Kubernetes API server: the kubeconfig (or the in-cluster service account) resolved as
 * client-node resolves it, and one request path over a kept-alive connection where every request is bounded,
 * interruptible and aborted on interruption.
 *
 * @since 0.1.0
 */
import { Context, Duration, Effect, Layer, type Stream } from "effect"
import { KubeConfigError } from "./errors.js"
import { type HttpRequest, makeTransport } from "./internal/http.js"
import {
  type ClientNodeKubeConfig,
  connectionOf,
  type ConnectionSource,
  fromClientNode,
  loadDefault,
  loadFile
} from "./internal/kubeConfig.js"

import type { K8sError } from "./K8sError.js"

export type {
  /** @since 0.1.0 */
  ClientNodeKubeConfig
} from "./internal/kubeConfig.js"

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
  /** The API server's URL. */
  readonly server: string
  /** One JSON request; the parsed body on 2xx, a `K8sError` otherwise. */
  readonly request: (request: K8sRequest) => Effect.Effect<unknown, K8sError>
  /** A watch request: one parsed JSON value per line, until the server ends the response. */
  readonly watch: (request: K8sRequest) => Stream.Stream<unknown, K8sError>
}>() {
  /**
   * A client for a `KubeConfig` of `@kubernetes/client-node` you built: its credentials are applied by it, so every
   * form it supports works, the legacy auth providers (azure, gcp, oidc) included. Its connections are closed when the
   * layer's scope closes.
   *
   * @since 0.1.0
   */
  static fromKubeConfig(
    kubeConfig: ClientNodeKubeConfig,
    options?: K8sClientOptions
  ): Layer.Layer<K8sClient, KubeConfigError> {
    return make("the given KubeConfig", () => fromClientNode(kubeConfig), options)
  }

  /**
   * The default configuration, found as client-node's `loadFromDefault` finds it: the files of `$KUBECONFIG`, else
   * `~/.kube/config`, else the in-cluster service account (whose token is read again as it rotates). Read without
   * loading client-node (see docs/configuration.md). Fails with a `KubeConfigError` when there is none.
   *
   * @since 0.1.0
   */
  static readonly layer: Layer.Layer<K8sClient, KubeConfigError> = Layer.suspend(() => K8sClient.layerWith())

  /**
   * {@link K8sClient.layer} with options.
   *
   * @since 0.1.0
   */
  static layerWith(options?: K8sClientOptions): Layer.Layer<K8sClient, KubeConfigError> {
    return make("$KUBECONFIG, ~/.kube/config or the service account", () => connectionOf(loadDefault()), options)
  }

  /**
   * A client for the kubeconfig file at `path` (its current context).
   *
   * @since 0.1.0
   */
  static fromFile(path: string, options?: K8sClientOptions): Layer.Layer<K8sClient, KubeConfigError> {
    return make(path, () => connectionOf(loadFile(path)), options)
  }
}

function make(source: string, load: () => ConnectionSource, options: K8sClientOptions | undefined) {
  return Layer.scoped(
    K8sClient,
    Effect.acquireRelease(
      Effect.try({
        try: () => {
          const connection = load()
          return {
            server: connection.server,
            ...makeTransport(connection, Duration.decode(options?.requestTimeout ?? "30 seconds"))
          }
        },
        catch: (cause) => new KubeConfigError({ source, cause })
      }),
      (transport) => Effect.sync(transport.close)
    ).pipe(Effect.map(({ request, server, watch }) => K8sClient.of({ server, request, watch })))
  )
}
