import { defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    // Logs of the library and of candidate processes only for failing tests.
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
          // The property-based safety suite: 600 simulated runs, CPU- and memory-heavy, so it runs on its own.
          name: "safety",
          include: ["test/safety.test.ts"],
          testTimeout: 600_000
        }
      },
      {
        test: {
          name: "integration",
          // The compatibility leg (scripts/compat.sh) runs the same suite against client-node 2.x.
          alias: process.env["K8S_CLIENT_NODE"] === "2"
            ? { "@kubernetes/client-node": "kubernetes-client-node-2" }
            : {},
          include: ["test/integration/**/*.test.ts"],
          // Builds the control plane once (minutes when cold, cached after); each file starts its own.
          globalSetup: ["test/integration/globalSetup.ts"],
          // One file at a time: each starts its own control plane, and timings need the (2) cores.
          pool: "forks",
          poolOptions: { forks: { singleFork: true } },
          testTimeout: 120_000,
          hookTimeout: 180_000
        }
      }
    ]
  }
})
