/**
 * Every manifest of deploy/ (crds, rbac, example) is accepted by a real API server: each document is POSTed with a
 * server-side dry-run (`dryRun=All`, so admission and validation run but nothing is stored) and strict field
 * validation (an unknown or misspelt field is an error, not a silent drop). Effect 4 edition: the requests go through
 * its K8sClient.
 */
import { Effect } from "effect"
import { readdirSync } from "node:fs"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { K8sClient, type K8sError } from "../../../src/effect4/index.js"
import type { ControlPlane } from "../../../testkit/controlPlane.js"
import {
  collectionPath as collectionPathIn,
  repoRoot,
  resourceInfo,
  run,
  startCluster,
  yamlDocuments
} from "./harness.js"

let cluster: ControlPlane

beforeAll(async () => {
  cluster = await startCluster()
})
afterAll(async () => {
  await cluster?.stop({ clean: true })
})

const namespace = "default"
const deployDir = path.join(repoRoot, "deploy")

/** Every YAML file under deploy/, relative to it, in a stable order (crds, example, rbac). */
const manifestFiles = (dir = deployDir): Array<string> =>
  readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name)).flatMap((entry) =>
    entry.isDirectory()
      ? manifestFiles(path.join(dir, entry.name))
      : /\.ya?ml$/.test(entry.name)
      ? [path.relative(deployDir, path.join(dir, entry.name))]
      : []
  )

const documents = (file: string) => yamlDocuments(path.join("deploy", file))
const collectionPath = (doc: any) => collectionPathIn(doc, namespace)
const info = (doc: any, verb: "create" | "get") => resourceInfo(doc, verb, namespace)

describe("deploy/ manifests on a real API server", () => {
  const files = manifestFiles()

  it("covers crds, rbac and example", () => {
    expect(files).toEqual(expect.arrayContaining([
      "crds/leaderlocks.effect-k8s-leader.io.yaml",
      "rbac/lease-lock.yaml",
      "rbac/configmap-lock.yaml",
      "rbac/leaderlock-lock.yaml",
      "example/deployment.yaml"
    ]))
  })

  it.each(files)("%s: every document passes a server-side dry-run with strict field validation", async (file) => {
    const docs = documents(file)
    expect(docs.length).toBeGreaterThan(0)
    for (const doc of docs) {
      const accepted: any = await run(
        cluster.adminKubeconfig,
        Effect.flatMap(K8sClient, (client) =>
          client.request({
            method: "POST",
            path: collectionPath(doc),
            query: { dryRun: "All", fieldValidation: "Strict" },
            body: doc,
            info: info(doc, "create")
          }))
      )
      expect(accepted.kind).toBe(doc.kind)
      expect(accepted.metadata.name).toBe(doc.metadata.name)
      // A dry-run stores nothing.
      const stored = await run(
        cluster.adminKubeconfig,
        Effect.flatMap(
          K8sClient,
          (client) =>
            client.request({
              method: "GET",
              path: `${collectionPath(doc)}/${doc.metadata.name}`,
              info: info(doc, "get")
            })
        ).pipe(
          Effect.as("found"),
          Effect.catchIf((error: K8sError) => error.reason === "NotFound", () => Effect.succeed("not found"))
        )
      )
      expect(stored).toBe("not found")
      console.log(`dry-run accepted: ${file} ${doc.kind}/${doc.metadata.name}`)
    }
  })

  it("a misspelt field is refused, so the dry-run above does check the manifests", async () => {
    const [deployment] = documents("example/deployment.yaml")
    const broken = { ...deployment, spec: { ...deployment.spec, replica: 3 } }
    const outcome = await run(
      cluster.adminKubeconfig,
      Effect.flatMap(K8sClient, (client) =>
        client.request({
          method: "POST",
          path: collectionPath(broken),
          query: { dryRun: "All", fieldValidation: "Strict" },
          body: broken,
          info: info(broken, "create")
        })).pipe(Effect.flip)
    )
    expect(outcome.message).toMatch(/replica/)
  })

  it("the example Deployment: 3 replicas, the downward API, the Lease lock's ServiceAccount, /healthz", () => {
    const [deployment] = documents("example/deployment.yaml")
    const serviceAccount = documents("rbac/lease-lock.yaml").find((doc) => doc.kind === "ServiceAccount")
    const pod = deployment.spec.template.spec
    const [container] = pod.containers
    const env = Object.fromEntries(container.env.map((e: any) => [e.name, e.valueFrom?.fieldRef?.fieldPath]))
    expect(deployment.spec.replicas).toBe(3)
    expect(env).toMatchObject({ POD_NAME: "metadata.name", POD_NAMESPACE: "metadata.namespace" })
    expect(pod.serviceAccountName).toBe(serviceAccount.metadata.name)
    expect(container.livenessProbe.httpGet.path).toBe("/healthz")
    // The release is one update bounded by requestTimeout (5 s by default): the grace period must leave room for it.
    expect(pod.terminationGracePeriodSeconds).toBeGreaterThanOrEqual(10)
  })
})
