import * as ClientNode from "@kubernetes/client-node"
import { describe, expect, it } from "vitest"

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
