/**
 * What the integration suites of the Effect 4 edition share besides testkit/ (the control plane, candidate
 * processes, interval checks): a control plane per file, the library's live layers over it, and a few requests of
 * their own. The port of test/integration/harness.ts.
 */
import { type Duration, Effect, Layer, Schedule } from "effect"
import { load } from "js-yaml"
import { readFileSync, writeFileSync } from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { ConfigMaps, K8sClient, type K8sError, LeaderLocks, Leases, Pods } from "../../../src/effect4/index.js"
import { type ControlPlane, startControlPlane } from "../../../testkit/controlPlane.js"

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..")

export const startCluster = (): Promise<ControlPlane> => startControlPlane({ log: () => {} })

/** The library's live resource services, and the client, for a kubeconfig. */
export const liveLayer = (kubeconfig: string) =>
  Layer.mergeAll(Pods.live, ConfigMaps.live, Leases.live, LeaderLocks.live).pipe(
    Layer.provideMerge(K8sClient.fromFile(kubeconfig))
  )

/** Runs an Effect over the live layers of `kubeconfig`. */
export const run = <A, E>(
  kubeconfig: string,
  effect: Effect.Effect<A, E, Pods | ConfigMaps | Leases | LeaderLocks | K8sClient>
): Promise<A> => Effect.runPromise(Effect.provide(effect, liveLayer(kubeconfig)))

let counter = 0
/** A name no other test uses. */
export const unique = (prefix: string) => `${prefix}-${Date.now().toString(36)}-${(counter++).toString(36)}`

/** A Pod with no node: the API server keeps it (nothing schedules it), and deletes it at once when asked. */
export const createPod = (name: string, namespace = "default") =>
  Effect.flatMap(Pods, (pods) =>
    pods.create({
      metadata: { name, namespace },
      spec: { containers: [{ name: "main", image: "registry.k8s.io/pause:3.10" }] }
    }))

/** Marks a Pod Failed through its status subresource, as an eviction does. */
export const failPod = (name: string, reason: string, namespace = "default") =>
  Effect.flatMap(K8sClient, (client) =>
    client.request({
      method: "PATCH",
      path: `/api/v1/namespaces/${namespace}/pods/${name}/status`,
      contentType: "application/merge-patch+json",
      body: { status: { phase: "Failed", reason } },
      info: { verb: "patch", resource: "pods/status", namespace, name }
    }))

/** The documents of a YAML file of the repository (`path` relative to its root), as plain JSON objects. */
export const yamlDocuments = (file: string): Array<any> =>
  readFileSync(path.join(repoRoot, file), "utf8").split(/^---$/m).map((part) => load(part)).filter(
    (doc) => typeof doc === "object" && doc !== null && !Array.isArray(doc)
  )

/** Applies (creates or replaces) every document of a YAML file from the repository, in `namespace`. */
export const applyYaml = (file: string, namespace = "default", edit: (doc: any) => any = (doc) => doc) =>
  Effect.gen(function*() {
    const client = yield* K8sClient
    for (const doc of yamlDocuments(file).map(edit)) {
      yield* client.request(
        {
          method: "POST",
          path: collectionPath(doc, namespace),
          body: doc,
          info: resourceInfo(doc, "create", namespace)
        }
      ).pipe(
        Effect.catchIf((error: K8sError) => error.reason === "AlreadyExists", () =>
          client.request({
            method: "GET",
            path: `${collectionPath(doc, namespace)}/${doc.metadata.name}`,
            info: resourceInfo(doc, "get", namespace)
          }).pipe(Effect.flatMap((current: any) =>
            client.request({
              method: "PUT",
              path: `${collectionPath(doc, namespace)}/${doc.metadata.name}`,
              body: { ...doc, metadata: { ...doc.metadata, resourceVersion: current.metadata.resourceVersion } },
              info: resourceInfo(doc, "update", namespace)
            })
          )))
      )
    }
  })

const plurals: Record<string, string> = {
  ServiceAccount: "serviceaccounts",
  Role: "roles",
  RoleBinding: "rolebindings",
  CustomResourceDefinition: "customresourcedefinitions",
  Deployment: "deployments"
}
const clusterScoped = new Set(["CustomResourceDefinition"])

/** The API path of the collection a manifest's object belongs to. */
export const collectionPath = (doc: any, namespace: string) => {
  const apiVersion: string = doc.apiVersion
  const base = apiVersion.includes("/") ? `/apis/${apiVersion}` : `/api/${apiVersion}`
  const plural = plurals[doc.kind]
  if (plural === undefined) throw new Error(`harness.ts: add the plural of ${doc.kind}`)
  return clusterScoped.has(doc.kind) ? `${base}/${plural}` : `${base}/namespaces/${namespace}/${plural}`
}

/** What a request about a manifest's object concerns, for error messages. */
export const resourceInfo = (doc: any, verb: "create" | "get" | "update", namespace: string) => ({
  verb,
  resource: plurals[doc.kind] ?? doc.kind,
  namespace,
  name: doc.metadata?.name
})

/** Polls `check` until it holds. */
export const eventually = <A, E, R>(check: Effect.Effect<A, E, R>, timeout: Duration.Input = "30 seconds") =>
  Effect.retry(check, Schedule.spaced("100 millis").pipe(Schedule.upTo({ duration: timeout })))

/** A copy of a kubeconfig whose server is `server` (e.g. a fault-injecting proxy), written next to it. */
export const kubeconfigWithServer = (source: string, server: string, file: string) => {
  const text = readFileSync(source, "utf8")
  const replaced = text.replace(/^(\s*server:\s*)"?[^"\n]+"?\s*$/m, `$1"${server}"`)
  if (replaced === text) throw new Error(`kubeconfigWithServer: no server line in ${source}`)
  writeFileSync(file, replaced, { mode: 0o600 })
  return file
}
