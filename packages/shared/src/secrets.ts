/**
 * Provider credentials at rest: AES-256-GCM under the operator's MASTER_KEY (32 bytes, base64 or hex).
 * Stored as `v1:<iv b64>:<ciphertext+tag b64>`. Web Crypto only, so any service (or a CLI) can use it.
 */
const VERSION = "v1";

function base64ToBytes(text: string): Uint8Array<ArrayBuffer> {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

function bytesToBase64(bytes: Uint8Array): string {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary);
}

export function parseMasterKey(masterKey: string): Uint8Array<ArrayBuffer> {
  const trimmed = masterKey.trim();
  const problem = "MASTER_KEY must be 32 bytes, as 64 hex characters or base64";
  let bytes: Uint8Array<ArrayBuffer>;
  try {
    bytes = /^[0-9a-fA-F]{64}$/.test(trimmed)
      ? Uint8Array.from(trimmed.match(/../g) ?? [], (pair) => Number.parseInt(pair, 16))
      : base64ToBytes(trimmed);
  } catch {
    throw new RangeError(problem);
  }
  if (bytes.length !== 32) throw new RangeError(problem);
  return bytes;
}

async function importKey(masterKey: string): Promise<CryptoKey> {
  return crypto.subtle.importKey("raw", parseMasterKey(masterKey), "AES-GCM", false, ["encrypt", "decrypt"]);
}

/** AES-GCM parameters; `context` (associated data) binds the ciphertext to what it belongs to. */
function gcm(iv: Uint8Array<ArrayBuffer>, context: string | undefined): AesGcmParams {
  return context === undefined
    ? { name: "AES-GCM", iv }
    : { name: "AES-GCM", iv, additionalData: new TextEncoder().encode(context) };
}

export function isMasterKey(value: string): boolean {
  try {
    parseMasterKey(value);
    return true;
  } catch {
    return false;
  }
}

/**
 * `context` is authenticated, not encrypted: decryption succeeds only with the same context. Provider
 * credentials use `providerSecretContext`, so a row whose destination was changed cannot decrypt.
 */
export async function encryptSecret(plaintext: string, masterKey: string, context?: string): Promise<string> {
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const key = await importKey(masterKey);
  const sealed = await crypto.subtle.encrypt(gcm(iv, context), key, new TextEncoder().encode(plaintext));
  return `${VERSION}:${bytesToBase64(iv)}:${bytesToBase64(new Uint8Array(sealed))}`;
}

export async function decryptSecret(stored: string, masterKey: string, context?: string): Promise<string> {
  const [version, iv, sealed] = stored.split(":");
  if (version !== VERSION || !iv || !sealed)
    throw new Error("not an encrypted secret (expected v1:<iv>:<data>)");
  const key = await importKey(masterKey);
  try {
    const plain = await crypto.subtle.decrypt(gcm(base64ToBytes(iv), context), key, base64ToBytes(sealed));
    return new TextDecoder().decode(plain);
  } catch {
    throw new Error(
      "cannot decrypt the secret: wrong MASTER_KEY, tampered data, or the row it belongs to changed",
    );
  }
}

/** What a provider credential is bound to: its name, kind and the origin it is sent to. */
export function providerSecretContext(provider: { name: string; kind: string; baseUrl: string }): string {
  let origin = provider.baseUrl;
  try {
    origin = new URL(provider.baseUrl).origin;
  } catch {
    // not a URL: bind the raw value
  }
  return `provider|${provider.name}|${provider.kind}|${origin}`;
}
