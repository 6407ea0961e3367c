import { describe, expect, it } from "vitest";
import { describeRuntimeEnv, productionRuntimeEnv, runtimeEnvOf } from "./runtime-env.ts";

describe("runtimeEnvOf", () => {
  it("reads the runtimes' variables of the final stage's ENV instructions, continued lines included", () => {
    const dockerfile = [
      "FROM node:20 AS build",
      "ENV MIMALLOC_SHOW_STATS=1",
      "FROM oven/bun:1 AS runtime",
      "ENV NODE_ENV=production APP=$APP",
      "# a comment whose line ends in a backslash does not swallow the next line \\",
      "ENV BUN_JSC_forceRAMSize=536870912 BUN_JSC_useFTLJIT=0 \\",
      "    BUN_JSC_smallHeapGrowthFactor=1.7",
      "env MIMALLOC_PURGE_DELAY=1000",
      "# ENV BUN_JSC_useDFGJIT=0",
      "RUN echo BUN_JSC_notAnEnv=1",
    ].join("\n");
    expect(runtimeEnvOf(dockerfile)).toEqual({
      BUN_JSC_forceRAMSize: "536870912",
      BUN_JSC_useFTLJIT: "0",
      BUN_JSC_smallHeapGrowthFactor: "1.7",
      MIMALLOC_PURGE_DELAY: "1000",
    });
  });

  it("refuses what it would misread instead of dropping or mangling the setting", () => {
    expect(() => runtimeEnvOf("ENV BUN_JSC_useFTLJIT 0")).toThrow(/cannot read "BUN_JSC_useFTLJIT"/);
    expect(() => runtimeEnvOf('ENV BUN_JSC_smallHeapGrowthFactor="1.7"')).toThrow(/value plain/);
    expect(() => runtimeEnvOf("ENV MIMALLOC_PURGE_DELAY=$DELAY")).toThrow(/value plain/);
  });
});

describe("productionRuntimeEnv", () => {
  it("gives docker/Dockerfile's settings, a variable of the bench's own environment winning", () => {
    const production = productionRuntimeEnv({});
    expect(production.BUN_JSC_useFTLJIT).toBe("0");
    expect(Object.keys(production).every((name) => /^(BUN_JSC_|MIMALLOC_)/.test(name))).toBe(true);
    expect(productionRuntimeEnv({ BUN_JSC_useFTLJIT: "1" }).BUN_JSC_useFTLJIT).toBe("1");
    expect(describeRuntimeEnv({ A_B: "1", C: "2" })).toBe("A_B=1 C=2");
  });
});
