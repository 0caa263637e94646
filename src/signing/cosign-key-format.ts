/**
 * cosign's password-protected private key file: a PEM block "ENCRYPTED SIGSTORE PRIVATE KEY" (or the
 * older "ENCRYPTED COSIGN PRIVATE KEY") whose body is the JSON written by go-securesystemslib's
 * `encrypted` package — scrypt derives a 32-byte key from the password, NaCl secretbox
 * (XSalsa20-Poly1305) seals the PKCS#8 DER private key. skopeo and podman read the same format.
 */
import { randomBytes, scrypt as scryptCallback, type ScryptOptions } from 'node:crypto';
import nacl from 'tweetnacl';
import { z } from 'zod';
import { ChainError } from '../errors';

export const SIGSTORE_PRIVATE_KEY_PEM_TYPE = 'ENCRYPTED SIGSTORE PRIVATE KEY';
export const COSIGN_PRIVATE_KEY_PEM_TYPE = 'ENCRYPTED COSIGN PRIVATE KEY';

/** The only parameter sets the Go reader accepts (legacy, standard = cosign's default, OWASP). */
const ACCEPTED_PARAMS = [
  { N: 32768, r: 8, p: 1 },
  { N: 65536, r: 8, p: 1 },
  { N: 131072, r: 8, p: 1 },
] as const;
export type ScryptParams = (typeof ACCEPTED_PARAMS)[number];
export const DEFAULT_SCRYPT_PARAMS: ScryptParams = ACCEPTED_PARAMS[1];

const base64Bytes = (length?: number) =>
  z
    .string()
    .regex(/^[A-Za-z0-9+/]*={0,2}$/, 'base64')
    .transform((s) => Buffer.from(s, 'base64'))
    .refine((b) => length === undefined || b.length === length, `${length} bytes`);

const encryptedKeySchema = z.object({
  kdf: z.object({
    name: z.literal('scrypt'),
    params: z.object({ N: z.number().int(), r: z.number().int(), p: z.number().int() }),
    salt: base64Bytes(),
  }),
  cipher: z.object({ name: z.literal('nacl/secretbox'), nonce: base64Bytes(nacl.secretbox.nonceLength) }),
  ciphertext: base64Bytes(),
});

function deriveKey(password: string, salt: Buffer, params: ScryptParams): Promise<Buffer> {
  const options: ScryptOptions = { N: params.N, r: params.r, p: params.p, maxmem: 256 * params.N * params.r };
  return new Promise((resolve, reject) =>
    scryptCallback(Buffer.from(password, 'utf8'), salt, nacl.secretbox.keyLength, options, (err, key) => (err ? reject(err) : resolve(key))),
  );
}

/** Seals a PKCS#8 DER private key the way `cosign generate-key-pair` does; returns the PEM text. */
export async function encryptCosignPrivateKey(pkcs8Der: Buffer, password: string, params: ScryptParams = DEFAULT_SCRYPT_PARAMS): Promise<string> {
  const salt = randomBytes(32);
  const nonce = randomBytes(nacl.secretbox.nonceLength);
  const key = await deriveKey(password, salt, params);
  const ciphertext = Buffer.from(nacl.secretbox(pkcs8Der, nonce, key));
  key.fill(0);
  // Same member order as the Go structs, so files are byte-for-byte like cosign's apart from randomness.
  const body = JSON.stringify({
    kdf: { name: 'scrypt', params: { N: params.N, r: params.r, p: params.p }, salt: salt.toString('base64') },
    cipher: { name: 'nacl/secretbox', nonce: nonce.toString('base64') },
    ciphertext: ciphertext.toString('base64'),
  });
  return toPem(SIGSTORE_PRIVATE_KEY_PEM_TYPE, Buffer.from(body, 'utf8'));
}

/**
 * Opens the body of an encrypted cosign key block (already base64-decoded from the PEM) and returns
 * the PKCS#8 DER private key. A wrong password or a damaged file is BAD_INPUT with a clear message.
 */
export async function decryptCosignPrivateKey(body: Buffer, password: string): Promise<Buffer> {
  let json: unknown;
  try {
    json = JSON.parse(body.toString('utf8'));
  } catch {
    throw new ChainError('BAD_INPUT', 'encrypted cosign key: the PEM body is not the expected JSON document');
  }
  const parsed = encryptedKeySchema.safeParse(json);
  if (!parsed.success) {
    const where = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new ChainError('BAD_INPUT', `encrypted cosign key: unexpected content (${where})`);
  }
  const { kdf, cipher, ciphertext } = parsed.data;
  const params = ACCEPTED_PARAMS.find((a) => a.N === kdf.params.N && a.r === kdf.params.r && a.p === kdf.params.p);
  if (!params) throw new ChainError('BAD_INPUT', `encrypted cosign key: unsupported scrypt parameters ${JSON.stringify(kdf.params)}`);
  const key = await deriveKey(password, kdf.salt, params);
  const opened = nacl.secretbox.open(ciphertext, cipher.nonce, key);
  key.fill(0);
  if (!opened) throw new ChainError('BAD_INPUT', 'encrypted cosign key: decryption failed (wrong password or damaged key file)');
  return Buffer.from(opened);
}

/** PEM armor with 64-character lines, as Go's encoding/pem writes it. */
export function toPem(type: string, der: Buffer): string {
  const lines = der.toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${type}-----\n${lines.join('\n')}\n-----END ${type}-----\n`;
}
