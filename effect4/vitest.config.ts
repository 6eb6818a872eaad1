import { defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    silent: "passed-only",
    projects: [
      {
        test: {
          name: "unit",
          include: ["test/**/*.test.ts"],
          exclude: ["test/integration/**", "test/safety.test.ts"]
        }
      },
      {
        test: {
          name: "safety",
          include: ["test/safety.test.ts"],
          testTimeout: 600_000
        }
      },
      {
        test: {
          name: "integration",
          // As in the root config: K8S_CLIENT_NODE=2 runs the suite against client-node 2.x.
          alias: process.env["K8S_CLIENT_NODE"] === "2"
            ? { "@kubernetes/client-node": "kubernetes-client-node-2" }
            : {},
          include: ["test/integration/**/*.test.ts"],
          globalSetup: ["../test/integration/globalSetup.ts"],
          pool: "forks",
          maxWorkers: 1,
          testTimeout: 120_000,
          hookTimeout: 180_000
        }
      }
    ]
  }
})
