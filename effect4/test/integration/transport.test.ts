/** K8sClient on a real API server, Effect 4 edition: the built-in kubeconfig loader and a client-node KubeConfig. */
import * as ClientNode from "@kubernetes/client-node"
import { Effect, Layer, Option } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { ContextInfo, K8sClient, LeaderElection, Leases } from "../../../src/effect4/index.js"
import { connectionOf, fromClientNode, loadFile } from "../../../src/internal/kubeConfig.js"
import type { ControlPlane } from "../../../testkit/controlPlane.js"
import { startCluster, unique } from "./harness.js"

describe("the client-node release under test", () => {
  it("is 2.x on Node >= 22 in the compatibility leg, 1.4 otherwise", async () => {
    const major = Number(process.versions.node.split(".")[0])
    if (process.env["K8S_CLIENT_NODE"] === "2") {
      const v2 = await import("kubernetes-client-node-2")
      expect(ClientNode.KubeConfig).toBe(v2.KubeConfig)
      expect(major).toBeGreaterThanOrEqual(22)
    } else {
      const { createRequire } = await import("node:module")
      const version = createRequire(import.meta.url)("@kubernetes/client-node/package.json").version
      expect(version).toBe("1.4.0")
    }
  })
})

describe("K8sClient on a real API server: the built-in kubeconfig loader and a client-node KubeConfig", () => {
  let cluster: ControlPlane
  beforeAll(async () => {
    cluster = await startCluster()
  })
  afterAll(async () => {
    await cluster?.stop({ clean: true })
  })

  it("resolve the control plane's kubeconfigs (client certificates, tokens) alike", async () => {
    for (const file of [cluster.adminKubeconfig, cluster.kubeconfigFor("user-1")]) {
      const theirs = new ClientNode.KubeConfig()
      theirs.loadFromFile(file)
      const ours = connectionOf(loadFile(file))
      expect(ours.server).toBe(fromClientNode(theirs).server)
      expect(await ours.credentials(false)).toEqual(await fromClientNode(theirs).credentials(false))
    }
  })

  it("a Lease election leads and releases through either", async () => {
    const kubeConfig = new ClientNode.KubeConfig()
    kubeConfig.loadFromFile(cluster.adminKubeconfig)
    for (const client of [K8sClient.fromFile(cluster.adminKubeconfig), K8sClient.fromKubeConfig(kubeConfig)]) {
      const name = unique("transport")
      const program = Effect.gen(function*() {
        const led = yield* LeaderElection.runAsLeader(
          Effect.flatMap(Leases, (leases) => leases.get(name, "default"))
        )
        const after = yield* Effect.flatMap(Leases, (leases) => leases.get(name, "default"))
        return { led, after }
      })
      const { after, led } = await Effect.runPromise(program.pipe(
        Effect.provide(
          LeaderElection.leaseLock(name).pipe(
            Layer.provideMerge(Leases.live),
            Layer.provide(ContextInfo.test({ namespace: "default", podName: "transport" })),
            Layer.provide(client)
          )
        )
      ))
      expect(Option.map(led, (lease) => lease.spec?.holderIdentity)).toEqual(Option.some("transport"))
      expect(after.spec?.holderIdentity ?? "").toBe("")
    }
  })
})
