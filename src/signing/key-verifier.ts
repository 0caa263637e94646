import { verify as cryptoVerify, type KeyObject } from 'node:crypto';
import { loadPublicKey } from './key-files';
import { keyIdOf, publicPemOf, type Verifier } from './signer';

/** Verifies DER ECDSA P-256 / SHA-256 signatures with one trusted public key. */
export class PublicKeyVerifier implements Verifier {
  readonly keyId: string;
  readonly publicKeyPem: string;
  readonly #key: KeyObject;

  constructor(publicKey: KeyObject) {
    this.#key = publicKey;
    this.keyId = keyIdOf(publicKey);
    this.publicKeyPem = publicPemOf(publicKey);
  }

  /** Throws BAD_INPUT when the PEM is not a P-256 public key. */
  static fromPem(pemText: string, what?: string): PublicKeyVerifier {
    return new PublicKeyVerifier(loadPublicKey(pemText, what));
  }

  verify(data: Buffer, derSignature: Buffer): boolean {
    try {
      return cryptoVerify('sha256', data, { key: this.#key, dsaEncoding: 'der' }, derSignature);
    } catch {
      return false; // malformed DER
    }
  }
}
