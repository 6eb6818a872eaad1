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
