import { defineConfig } from "vitest/config";

// Two projects: `unit` is pure logic (no I/O); `integration` talks to real Redis, PocketBase and processes.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: "unit",
          include: ["{apps,packages,infra,scripts,bench}/**/*.test.ts"],
          exclude: ["**/node_modules/**", "**/test/integration/**", "**/*.int.test.ts"],
          environment: "node",
          sequence: { groupOrder: 0 },
        },
      },
      {
        test: {
          name: "integration",
          include: ["{apps,packages,infra,scripts}/**/test/integration/**/*.test.ts", "**/*.int.test.ts"],
          exclude: ["**/node_modules/**"],
          environment: "node",
          testTimeout: 60_000,
          hookTimeout: 180_000,
          pool: "forks",
          fileParallelism: true,
          maxWorkers: 2,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
