import { createPublicKey, sign as cryptoSign, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { ChainError } from '../errors';
import { loadPrivateKey } from './key-files';
import { keyIdOf, publicPemOf, type Signer } from './signer';

/** Signs with a private key held in process memory (from a PEM file or an environment variable). */
export class KeySigner implements Signer {
  readonly #key: KeyObject;
  readonly #keyId: string;
  readonly #publicPem: string;

  constructor(privateKey: KeyObject) {
    this.#key = privateKey;
    const pub = createPublicKey(privateKey);
    this.#keyId = keyIdOf(pub);
    this.#publicPem = publicPemOf(pub);
  }

  /** From PEM text: PKCS#8, SEC1, encrypted PKCS#8 or cosign's encrypted format. */
  static async fromPem(pemText: string, password?: string): Promise<KeySigner> {
    return new KeySigner(await loadPrivateKey(pemText, password));
  }

  static async fromFile(path: string, password?: string): Promise<KeySigner> {
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (cause) {
      throw new ChainError('BAD_INPUT', `signing key file ${path} cannot be read: ${(cause as NodeJS.ErrnoException).code ?? 'error'}`);
    }
    return KeySigner.fromPem(text, password);
  }

  keyId(): Promise<string> {
    return Promise.resolve(this.#keyId);
  }

  publicKeyPem(): Promise<string> {
    return Promise.resolve(this.#publicPem);
  }

  sign(data: Buffer): Promise<Buffer> {
    return Promise.resolve(cryptoSign('sha256', data, { key: this.#key, dsaEncoding: 'der' }));
  }

  /** Keeps the key out of console.log / util.inspect output. */
  toJSON(): Record<string, string> {
    return { keyId: this.#keyId };
  }
}
