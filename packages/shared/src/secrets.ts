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

export async function encryptSecret(plaintext: string, masterKey: string): Promise<string> {
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const key = await importKey(masterKey);
  const sealed = await crypto.subtle.encrypt({ name: "AES-GCM", iv }, key, new TextEncoder().encode(plaintext));
  return `${VERSION}:${bytesToBase64(iv)}:${bytesToBase64(new Uint8Array(sealed))}`;
}

export async function decryptSecret(stored: string, masterKey: string): Promise<string> {
  const [version, iv, sealed] = stored.split(":");
  if (version !== VERSION || !iv || !sealed) throw new Error("not an encrypted secret (expected v1:<iv>:<data>)");
  const key = await importKey(masterKey);
  try {
    const plain = await crypto.subtle.decrypt({ name: "AES-GCM", iv: base64ToBytes(iv) }, key, base64ToBytes(sealed));
    return new TextDecoder().decode(plain);
  } catch {
    throw new Error("cannot decrypt the secret: wrong MASTER_KEY or tampered data");
  }
}
