import { readFileSync } from "node:fs";
import { REPO_ROOT } from "@cloudfreedom/testing";

/** What the runtimes read (JavaScriptCore's options, Bun's allocator), not our code. */
const RUNTIME_VARIABLE = /^(BUN_JSC_|MIMALLOC_)/;

/**
 * The runtime settings of a Dockerfile's final stage (the image that runs): its `ENV` instructions' (`ENV A=1
 * B=2`, continued over `\` line ends) variables of JavaScriptCore (`BUN_JSC_*`) and Bun's allocator
 * (`MIMALLOC_*`), which decide how much memory and CPU a service uses. Throws on what this does not read (the
 * legacy `ENV NAME value` form, quotes, variables), so a setting is never silently dropped or mangled.
 */
export function runtimeEnvOf(dockerfile: string): Record<string, string> {
  // Comment lines go first: Docker drops them before it joins continued lines.
  const lines = dockerfile.split(/\r?\n/).filter((line) => !/^\s*#/.test(line));
  const instructions = lines.join("\n").replace(/\\\n/g, " ").split("\n");
  const lastStage = instructions.findLastIndex((instruction) => /^\s*FROM\s/i.test(instruction));
  const env: Record<string, string> = {};
  for (const instruction of instructions.slice(Math.max(lastStage, 0))) {
    const match = /^\s*ENV\s+(.*)$/i.exec(instruction);
    if (!match?.[1]) continue;
    for (const pair of match[1].trim().split(/\s+/)) {
      const assignment = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(pair);
      const [name, value] = [assignment?.[1], assignment?.[2]];
      if (name === undefined || value === undefined) {
        throw new Error(`Dockerfile: cannot read "${pair}" in "${instruction.trim()}"; write ENV NAME=value`);
      }
      if (!RUNTIME_VARIABLE.test(name)) continue;
      if (/["'$\\]/.test(value)) {
        throw new Error(
          `Dockerfile: ${name}=${value}: write a runtime setting's value plain (no quotes, no $)`,
        );
      }
      env[name] = value;
    }
  }
  return env;
}

/**
 * The runtime settings production gives every Bun service (docker/Dockerfile), for the benches to start
 * services with: a bench measures what production runs. A variable set in the bench's own environment wins,
 * so `BUN_JSC_smallHeapGrowthFactor=2 bun bench/router/run.ts` measures JSC's default.
 */
export function productionRuntimeEnv(env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const settings = runtimeEnvOf(readFileSync(`${REPO_ROOT}/docker/Dockerfile`, "utf8"));
  return Object.fromEntries(Object.entries(settings).map(([name, value]) => [name, env[name] ?? value]));
}

/** `NAME=value NAME=value`, for a report to say what the services ran with. */
export function describeRuntimeEnv(settings: Record<string, string>): string {
  return Object.entries(settings)
    .map(([name, value]) => `${name}=${value}`)
    .join(" ");
}
