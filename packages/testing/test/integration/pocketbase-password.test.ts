import { describe, expect, it } from "vitest";
import { connectAsSuperuser, startPocketBase } from "../../src/pocketbase.ts";

// A generated base64url password starts with "-" one time in 64; the CLI must not read it as a flag.
describe("startPocketBase", () => {
  it("creates the superuser even when its password starts with a dash", async () => {
    const pocketbase = await startPocketBase({ adminPassword: "-Abcdefghijklmnopqrstuvw" });
    try {
      const pb = await connectAsSuperuser(pocketbase);
      expect(pb.authStore.isValid).toBe(true);
    } finally {
      await pocketbase.stop();
    }
  });
});
