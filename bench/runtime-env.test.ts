import { describe, expect, it } from "vitest";
import { productionRuntimeEnv, runtimeEnvOf } from "./runtime-env.ts";

describe("runtimeEnvOf", () => {
  it("reads the runtimes' variables of every ENV instruction, continued lines included", () => {
    const dockerfile = [
      "FROM oven/bun:1 AS runtime",
      "ENV NODE_ENV=production APP=$APP",
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

  it("refuses the legacy `ENV NAME value` form instead of dropping the setting", () => {
    expect(() => runtimeEnvOf("ENV BUN_JSC_useFTLJIT 0")).toThrow(/cannot read "BUN_JSC_useFTLJIT"/);
  });
});

describe("productionRuntimeEnv", () => {
  it("gives docker/Dockerfile's settings, a variable of the bench's own environment winning", () => {
    const production = productionRuntimeEnv({});
    expect(production.BUN_JSC_useFTLJIT).toBe("0");
    expect(Object.keys(production).every((name) => /^(BUN_JSC_|MIMALLOC_)/.test(name))).toBe(true);
    expect(productionRuntimeEnv({ BUN_JSC_useFTLJIT: "1" }).BUN_JSC_useFTLJIT).toBe("1");
  });
});
