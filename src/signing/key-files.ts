/**
 * Reading and writing ECDSA P-256 keys: PKCS#8 PEM ("PRIVATE KEY", also password-protected
 * "ENCRYPTED PRIVATE KEY"), SEC1 "EC PRIVATE KEY", and cosign's encrypted format. Messages name
 * the problem, never the key material.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { ChainError } from '../errors';
import { COSIGN_PRIVATE_KEY_PEM_TYPE, decryptCosignPrivateKey, encryptCosignPrivateKey, SIGSTORE_PRIVATE_KEY_PEM_TYPE } from './cosign-key-format';
import { publicPemOf } from './signer';

export interface PemBlock {
  type: string;
  body: Buffer;
}

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----\r?\n([\s\S]*?)-----END \1-----/g;

export function parsePemBlocks(text: string): PemBlock[] {
  return [...text.matchAll(PEM_BLOCK)].map((m) => ({ type: m[1] as string, body: Buffer.from((m[2] as string).replace(/[^A-Za-z0-9+/=]/g, ''), 'base64') }));
}

/** Loads a P-256 private key from PEM text; `password` opens encrypted formats. */
export async function loadPrivateKey(pemText: string, password?: string): Promise<KeyObject> {
  const block = parsePemBlocks(pemText).find((b) => b.type.endsWith('PRIVATE KEY'));
  if (!block) throw new ChainError('BAD_INPUT', 'signing key: no PEM private key block found');
  let key: KeyObject;
  if (block.type === SIGSTORE_PRIVATE_KEY_PEM_TYPE || block.type === COSIGN_PRIVATE_KEY_PEM_TYPE) {
    if (password === undefined) throw new ChainError('BAD_INPUT', `signing key: the ${block.type} block needs a password`);
    const der = await decryptCosignPrivateKey(block.body, password);
    key = wrapKeyError(() => createPrivateKey({ key: der, format: 'der', type: 'pkcs8' }), 'signing key: the decrypted key is not PKCS#8');
  } else if (block.type === 'ENCRYPTED PRIVATE KEY') {
    if (password === undefined) throw new ChainError('BAD_INPUT', 'signing key: an ENCRYPTED PRIVATE KEY needs a password');
    key = wrapKeyError(() => createPrivateKey({ key: pemText, format: 'pem', passphrase: password }), 'signing key: cannot decrypt (wrong password?)');
  } else if (block.type === 'PRIVATE KEY' || block.type === 'EC PRIVATE KEY') {
    key = wrapKeyError(() => createPrivateKey({ key: pemText, format: 'pem' }), `signing key: malformed ${block.type}`);
  } else {
    throw new ChainError('BAD_INPUT', `signing key: unsupported PEM type "${block.type}"`);
  }
  assertP256(key, 'signing key');
  return key;
}

/** Loads a P-256 public key from PEM ("PUBLIC KEY", SubjectPublicKeyInfo). */
export function loadPublicKey(pemText: string, what = 'public key'): KeyObject {
  const block = parsePemBlocks(pemText).find((b) => b.type === 'PUBLIC KEY');
  if (!block) throw new ChainError('BAD_INPUT', `${what}: no "PUBLIC KEY" PEM block found`);
  const key = wrapKeyError(() => createPublicKey({ key: block.body, format: 'der', type: 'spki' }), `${what}: malformed SubjectPublicKeyInfo`);
  assertP256(key, what);
  return key;
}

export interface GeneratedKeyPair {
  /** cosign's encrypted format, readable by cosign and skopeo. */
  privateKeyPem: string;
  publicKeyPem: string;
}

/** A fresh P-256 key pair, the private half sealed with `password` (may be empty, as with cosign). */
export async function generateKeyPair(password: string): Promise<GeneratedKeyPair> {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const der = privateKey.export({ type: 'pkcs8', format: 'der' });
  try {
    return { privateKeyPem: await encryptCosignPrivateKey(der, password), publicKeyPem: publicPemOf(privateKey) };
  } finally {
    der.fill(0);
  }
}

function assertP256(key: KeyObject, what: string): void {
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    const kind = key.asymmetricKeyType === 'ec' ? `EC ${key.asymmetricKeyDetails?.namedCurve ?? '?'}` : (key.asymmetricKeyType ?? 'unknown');
    throw new ChainError('BAD_INPUT', `${what}: only ECDSA P-256 keys are supported, got ${kind}`);
  }
}

function wrapKeyError(fn: () => KeyObject, message: string): KeyObject {
  try {
    return fn();
  } catch {
    // The crypto error can quote key bytes; keep only our own description.
    throw new ChainError('BAD_INPUT', message);
  }
}
