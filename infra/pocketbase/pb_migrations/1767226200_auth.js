// Auth service: signing_keys (JWT keys shared by every auth replica), refresh_tokens (rotated, family-revoked),
// invitations (email token, stored as a hash only).
// Conventions: see 1767225600_control_plane.js.

const CLOSED_RULES = { listRule: null, viewRule: null, createRule: null, updateRule: null, deleteRule: null };

function idField(prefix) {
  return {
    name: "id",
    type: "text",
    system: true,
    primaryKey: true,
    required: true,
    min: 3,
    max: 64,
    pattern: "^[a-z0-9_]+$",
    autogeneratePattern: `${prefix}_[a-z0-9]{15}`,
  };
}

function baseCollection(name, idPrefix, fields, indexes) {
  return new Collection({
    type: "base",
    name,
    ...CLOSED_RULES,
    fields: [
      idField(idPrefix),
      ...fields,
      { name: "created", type: "autodate", onCreate: true, onUpdate: false },
      { name: "updated", type: "autodate", onCreate: true, onUpdate: true },
    ],
    indexes,
  });
}

const text = (name, opts) => ({ name, type: "text", ...opts });
const select = (name, values, opts) => ({ name, type: "select", values, maxSelect: 1, ...opts });
const date = (name) => ({ name, type: "date" });
const json = (name, maxSize) => ({ name, type: "json", maxSize: maxSize || 0 });
const relation = (name, collection, required) => ({
  name,
  type: "relation",
  collectionId: collection.id,
  maxSelect: 1,
  required: !!required,
  cascadeDelete: false,
});
const HASH = { required: true, pattern: "^[a-f0-9]{64}$", help: "SHA-256 of the secret, hex" };

migrate(
  (app) => {
    const tenants = app.findCollectionByNameOrId("tenants");
    const users = app.findCollectionByNameOrId("users");
    // Every password check reaches PocketBase from an auth replica, not the user's device: PocketBase's
    // new-location alert would fire per replica (and fail the login without a mailer). Auth audits logins itself.
    users.authAlert.enabled = false;
    app.save(users);

    app.save(
      baseCollection(
        "signing_keys",
        "sgk",
        [
          text("kid", { required: true, max: 64, pattern: "^[A-Za-z0-9_-]+$" }),
          select("alg", ["ES256", "EdDSA"], { required: true }),
          json("public_jwk"),
          // AES-256-GCM under MASTER_KEY (packages/shared secrets.ts): v1:<iv>:<ciphertext+tag>.
          text("private_jwk_encrypted", { required: true, max: 4096 }),
          date("activated_at"),
          date("retired_at"),
          // Published in the JWKS until then: retirement + the longest access token lifetime + margin.
          date("verify_until"),
        ],
        ["CREATE UNIQUE INDEX `idx_signing_keys_kid` ON `signing_keys` (`kid`)"],
      ),
    );

    app.save(
      baseCollection(
        "refresh_tokens",
        "rft",
        [
          relation("tenant", tenants, true),
          relation("user", users, true),
          text("family", { required: true, max: 64, help: "every rotation of one login shares it" }),
          text("hash", HASH),
          date("expires_at"),
          date("used_at"),
          date("revoked_at"),
          text("replaced_by", { max: 64 }),
          text("ip", { max: 64 }),
          text("user_agent", { max: 1024 }),
        ],
        [
          // Tenant-resolving exception: a refresh request carries only the token.
          "CREATE UNIQUE INDEX `idx_refresh_tokens_hash` ON `refresh_tokens` (`hash`)",
          "CREATE INDEX `idx_refresh_tokens_tenant_family` ON `refresh_tokens` (`tenant`, `family`)",
          "CREATE INDEX `idx_refresh_tokens_tenant_user` ON `refresh_tokens` (`tenant`, `user`)",
        ],
      ),
    );

    app.save(
      baseCollection(
        "invitations",
        "inv",
        [
          relation("tenant", tenants, true),
          text("email", { required: true, max: 255 }),
          select("role", ["owner", "admin", "member"], { required: true }),
          text("token_hash", HASH),
          relation("invited_by", users, false),
          date("expires_at"),
          date("accepted_at"),
          relation("accepted_by", users, false),
          date("revoked_at"),
        ],
        [
          // Tenant-resolving exception: accepting carries only the token.
          "CREATE UNIQUE INDEX `idx_invitations_token_hash` ON `invitations` (`token_hash`)",
          "CREATE INDEX `idx_invitations_tenant_email` ON `invitations` (`tenant`, `email`)",
        ],
      ),
    );
  },
  (app) => {
    for (const name of ["invitations", "refresh_tokens", "signing_keys"]) {
      app.delete(app.findCollectionByNameOrId(name));
    }
    const users = app.findCollectionByNameOrId("users");
    users.authAlert.enabled = true;
    app.save(users);
  },
);
