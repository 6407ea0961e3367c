import type { Db, SigningKeyRow } from "@cloudfreedom/db";
import { pbDateToMs, toPbDate } from "@cloudfreedom/db";
import { withLock } from "@cloudfreedom/queue";
import type { Logger } from "@cloudfreedom/service-kit";
import { decryptSecret, encryptSecret } from "@cloudfreedom/shared";
import type { Redis } from "ioredis";
import { type CryptoKey, exportJWK, generateKeyPair, importJWK, type JWK, errors as joseErrors } from "jose";

const ALG = "ES256";
/** The private key is bound to its kid (AES-GCM associated data): a swapped row cannot decrypt. */
const secretContext = (kid: string) => `signing_key|${kid}`;
/** PocketBase stores dates as "2026-11-23 10:00:00.000Z" and compares them as text: filter values must match. */
export const pbFilterDate = (ms: number) => new Date(ms).toISOString().replace("T", " ");
const LOCK_KEY = "cf:auth:signing-key-lock";
/** An unknown `kid` triggers at most one reload per this interval (a flood of forged kids cannot hammer PocketBase). */
const UNKNOWN_KID_RELOAD_MS = 5_000;

interface LoadedKey {
  kid: string;
  publicJwk: JWK;
  publicKey: CryptoKey;
  privateKey: CryptoKey | null;
  activatedAt: number;
  retired: boolean;
}

export interface SigningKeyOptions {
  db: Db;
  redis: Redis;
  masterKey: string;
  logger: Logger;
  rotationMs: number;
  /** The longest access-token lifetime: a retired key stays published this long (plus margin). */
  accessTtlMs: number;
  refreshMs: number;
}

/**
 * ES256 signing keys kept in PocketBase (`signing_keys`, private half encrypted under MASTER_KEY), so they survive
 * restarts and every auth replica signs with the same key. The newest unretired key signs; every key whose tokens
 * may still be alive is published in the JWKS.
 */
export class SigningKeyStore {
  private keys = new Map<string, LoadedKey>();
  private timer: ReturnType<typeof setInterval> | undefined;
  private lastUnknownReload = 0;

  constructor(private readonly options: SigningKeyOptions) {}

  async start(): Promise<void> {
    await this.reload();
    await this.ensureFresh();
    this.timer = setInterval(() => void this.tick(), this.options.refreshMs);
    this.timer.unref?.();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /** The key that signs now. */
  signer(): { kid: string; privateKey: CryptoKey } {
    const active = [...this.keys.values()]
      .filter((key) => !key.retired && key.privateKey)
      .sort((a, b) => b.activatedAt - a.activatedAt)[0];
    if (!active?.privateKey) throw new Error("no active signing key (start() not awaited?)");
    return { kid: active.kid, privateKey: active.privateKey };
  }

  /** `jose` key resolver for jwtVerify: a published key by `kid`, else JWKSNoMatchingKey (→ 401). */
  readonly getKey = async (header: { kid?: string | undefined }): Promise<CryptoKey> => {
    const kid = header.kid ?? "";
    let key = this.keys.get(kid);
    if (!key && Date.now() - this.lastUnknownReload > UNKNOWN_KID_RELOAD_MS) {
      this.lastUnknownReload = Date.now();
      await this.reload();
      key = this.keys.get(kid);
    }
    if (!key) throw new joseErrors.JWKSNoMatchingKey();
    return key.publicKey;
  };

  jwks(): { keys: JWK[] } {
    return {
      keys: [...this.keys.values()].map((key) => ({ ...key.publicJwk, kid: key.kid, alg: ALG, use: "sig" })),
    };
  }

  /** Makes a new signing key and retires the current one (it keeps verifying until its tokens expire). */
  async rotate(): Promise<string> {
    const kid = await this.create();
    await this.reload();
    return kid;
  }

  private async tick(): Promise<void> {
    try {
      await this.reload();
      await this.ensureFresh();
    } catch (error) {
      this.options.logger.warn({ err: error }, "signing key refresh failed; keeping the keys in memory");
    }
  }

  /** One replica at a time makes a key when there is none or the active one is due for rotation. */
  private async ensureFresh(): Promise<void> {
    if (!this.rotationDue()) return;
    const locked = await withLock(this.options.redis, LOCK_KEY, 10_000, async () => {
      await this.reload();
      if (this.rotationDue()) await this.create();
      await this.reload();
    });
    if (!locked.held) {
      await new Promise((resolve) => setTimeout(resolve, 500));
      await this.reload();
      if (this.keys.size === 0) throw new Error("another auth replica holds the signing key lock; retry");
    }
  }

  private rotationDue(): boolean {
    const active = [...this.keys.values()].filter((key) => !key.retired && key.privateKey);
    const newest = Math.max(0, ...active.map((key) => key.activatedAt));
    return active.length === 0 || Date.now() - newest >= this.options.rotationMs;
  }

  private async create(): Promise<string> {
    const { db, masterKey, accessTtlMs, refreshMs } = this.options;
    const { publicKey, privateKey } = await generateKeyPair(ALG, { extractable: true });
    const kid = crypto.randomUUID().replaceAll("-", "");
    const rows = db.operator.collection("signing_keys");
    const now = Date.now();
    await rows.create({
      kid,
      alg: ALG,
      public_jwk: { ...(await exportJWK(publicKey)) },
      private_jwk_encrypted: await encryptSecret(
        JSON.stringify(await exportJWK(privateKey)),
        masterKey,
        secretContext(kid),
      ),
      activated_at: toPbDate(now),
    });
    // Retire the others: other replicas may sign with them until their next refresh, hence the margin.
    const verifyUntil = toPbDate(now + accessTtlMs + refreshMs + 60_000);
    for (const row of await rows.listAll({ filter: "retired_at = '' && kid != {:kid}", params: { kid } })) {
      await rows.update(row.id, { retired_at: toPbDate(now), verify_until: verifyUntil });
    }
    this.options.logger.info({ kid }, "new JWT signing key");
    return kid;
  }

  private async reload(): Promise<void> {
    const rows = await this.options.db.operator.collection("signing_keys").listAll({
      filter: "verify_until = '' || verify_until > {:now}",
      params: { now: pbFilterDate(Date.now()) },
    });
    const next = new Map<string, LoadedKey>();
    for (const row of rows) next.set(row.kid, this.keys.get(row.kid) ?? (await this.load(row)));
    for (const row of rows) {
      const loaded = next.get(row.kid);
      if (loaded) loaded.retired = row.retired_at !== "";
    }
    this.keys = next;
  }

  private async load(row: SigningKeyRow): Promise<LoadedKey> {
    const publicJwk = (row.public_jwk ?? {}) as JWK;
    const privateJwk = JSON.parse(
      await decryptSecret(row.private_jwk_encrypted, this.options.masterKey, secretContext(row.kid)),
    ) as JWK;
    return {
      kid: row.kid,
      publicJwk: { kty: publicJwk.kty, crv: publicJwk.crv, x: publicJwk.x, y: publicJwk.y },
      publicKey: (await importJWK(publicJwk, ALG)) as CryptoKey,
      privateKey: row.retired_at === "" ? ((await importJWK(privateJwk, ALG)) as CryptoKey) : null,
      activatedAt: pbDateToMs(row.activated_at) ?? pbDateToMs(row.created) ?? 0,
      retired: row.retired_at !== "",
    };
  }
}
