import { join } from "node:path";
import { fileURLToPath } from "node:url";

/** The monorepo root, resolved from this file so it holds whatever the working directory is. */
export const REPO_ROOT = fileURLToPath(new URL("../../../", import.meta.url));

export const POCKETBASE_DIR = join(REPO_ROOT, "infra", "pocketbase");
export const POCKETBASE_BIN = join(POCKETBASE_DIR, "bin", "pocketbase");
export const POCKETBASE_BUILD_SCRIPT = join(POCKETBASE_DIR, "build.sh");
export const POCKETBASE_MIGRATIONS_DIR = join(POCKETBASE_DIR, "pb_migrations");
