import { readFileSync } from "node:fs";
import { REPO_ROOT } from "@cloudfreedom/testing";

/** What the runtimes read (JavaScriptCore's options, Bun's allocator), not our code. */
const RUNTIME_VARIABLE = /^(BUN_JSC_|MIMALLOC_)/;

/**
 * The runtime settings of a Dockerfile's `ENV` instructions (`ENV A=1 B=2`, continued over `\` line ends):
 * those of JavaScriptCore (`BUN_JSC_*`) and of Bun's allocator (`MIMALLOC_*`), which decide how much memory
 * and CPU a service uses. Throws on an `ENV` form this does not read, so a setting is never silently dropped.
 */
export function runtimeEnvOf(dockerfile: string): Record<string, string> {
  const env: Record<string, string> = {};
  const instructions = dockerfile.replace(/\\\r?\n/g, " ").split(/\r?\n/);
  for (const instruction of instructions) {
    const match = /^\s*ENV\s+(.*)$/i.exec(instruction);
    if (!match?.[1]) continue;
    for (const pair of match[1].trim().split(/\s+/)) {
      const assignment = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(pair);
      if (!assignment?.[1] || assignment[2] === undefined) {
        throw new Error(`Dockerfile: cannot read "${pair}" in "${instruction.trim()}"; write ENV NAME=value`);
      }
      if (RUNTIME_VARIABLE.test(assignment[1])) env[assignment[1]] = assignment[2];
    }
  }
  return env;
}

/**
 * The runtime settings production gives every Bun service (docker/Dockerfile), for the benches to start
 * services with: a bench measures what production runs. A variable set in the bench's own environment wins,
 * so `BUN_JSC_smallHeapGrowthFactor=2 bun bench/router/run.ts` measures a different setting.
 */
export function productionRuntimeEnv(env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const settings = runtimeEnvOf(readFileSync(`${REPO_ROOT}/docker/Dockerfile`, "utf8"));
  return Object.fromEntries(Object.entries(settings).map(([name, value]) => [name, env[name] ?? value]));
}
