import { createHash, createPublicKey, type KeyObject } from 'node:crypto';

/**
 * Something that signs with an ECDSA P-256 key: a key file in memory, a PKCS#11 token, a KMS.
 * `sign` hashes `data` with SHA-256 and returns the ASN.1 DER signature, as cosign stores it.
 */
export interface Signer {
  keyId(): Promise<string>;
  publicKeyPem(): Promise<string>;
  sign(data: Buffer): Promise<Buffer>;
}

/** Checks DER ECDSA P-256 / SHA-256 signatures made by one public key. */
export interface Verifier {
  readonly keyId: string;
  readonly publicKeyPem: string;
  /** False for a wrong or malformed signature; never throws. */
  verify(data: Buffer, derSignature: Buffer): boolean;
}

/**
 * A key's identity: `sha256:` and the hex SHA-256 of its DER SubjectPublicKeyInfo, so the same key
 * has the same id whether it comes from a file, a token or a PEM pasted into the configuration.
 */
export function keyIdOf(key: KeyObject): string {
  const spki = (key.type === 'private' ? createPublicKey(key) : key).export({ type: 'spki', format: 'der' });
  return `sha256:${createHash('sha256').update(spki).digest('hex')}`;
}

/** PEM (SPKI "PUBLIC KEY") of a public or private key object. */
export function publicPemOf(key: KeyObject): string {
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  return pub.export({ type: 'spki', format: 'pem' }).toString();
}
