import { toAppError, UserRow } from "@cloudfreedom/db";
import { ClientResponseError } from "pocketbase";
import type { AuthDeps } from "../../deps.ts";

/**
 * Checks an e-mail + password against PocketBase's `users` (PocketBase holds the bcrypt hash and never returns
 * it). The request goes out with our superuser session, which PocketBase lets through the closed auth rule; the
 * user token it answers with is discarded. Null for a wrong password or an unknown e-mail alike.
 */
export async function verifyPassword(
  deps: AuthDeps,
  email: string,
  password: string,
): Promise<UserRow | null> {
  try {
    const result = await deps.db.client.callRaw((pb) =>
      pb.send<{ record: unknown }>("/api/collections/users/auth-with-password", {
        method: "POST",
        body: { identity: email, password },
      }),
    );
    return UserRow.parse(result.record);
  } catch (error) {
    if (error instanceof ClientResponseError && error.status === 400) return null;
    throw toAppError(error);
  }
}
