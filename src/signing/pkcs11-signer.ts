/**
 * A Signer whose private key never leaves a PKCS#11 token (HSM, smart card, SoftHSM, cloud KMS
 * with a PKCS#11 module). The digest is computed here and the token signs it with CKM_ECDSA.
 */
import { createHash, createPublicKey, type KeyObject } from 'node:crypto';
import * as pkcs11js from 'pkcs11js';
import { ChainError } from '../errors';
import { p1363ToDer } from './ecdsa-der';
import { keyIdOf, publicPemOf, type Signer } from './signer';

export interface Pkcs11SignerOptions {
  /** Path of the PKCS#11 module, e.g. /usr/lib/softhsm/libsofthsm2.so */
  module: string;
  /** Label of the token holding the key. */
  tokenLabel: string;
  /** CKA_LABEL of the key pair (private and public objects carry the same label). */
  keyLabel: string;
  /** User PIN; read from the environment by the caller, never stored elsewhere. */
  pin: string;
}

/** SubjectPublicKeyInfo prefix for an uncompressed P-256 point (id-ecPublicKey, prime256v1). */
const P256_SPKI_PREFIX = Buffer.from('3059301306072a8648ce3d020106082a8648ce3d030107034200', 'hex');
const UNCOMPRESSED_POINT_BYTES = 65;

/** C_Initialize is once per process and module; signers share the loaded module. */
const loadedModules = new Map<string, { lib: pkcs11js.PKCS11; users: number }>();

interface OpenSession {
  lib: pkcs11js.PKCS11;
  handle: Buffer;
  privateKey: Buffer;
  publicKey: KeyObject;
}

export class Pkcs11Signer implements Signer {
  readonly #options: Pkcs11SignerOptions;
  #session: OpenSession | undefined;

  constructor(options: Pkcs11SignerOptions) {
    this.#options = options;
  }

  async keyId(): Promise<string> {
    return keyIdOf(this.#open().publicKey);
  }

  async publicKeyPem(): Promise<string> {
    return publicPemOf(this.#open().publicKey);
  }

  async sign(data: Buffer): Promise<Buffer> {
    const { lib, handle, privateKey } = this.#open();
    const digest = createHash('sha256').update(data).digest();
    try {
      lib.C_SignInit(handle, { mechanism: pkcs11js.CKM_ECDSA }, privateKey);
      return p1363ToDer(lib.C_Sign(handle, digest, Buffer.alloc(2 * 32 + 8)));
    } catch (cause) {
      // The session may be dead (token removed, HSM restarted): reopen on the next attempt.
      this.close();
      throw new ChainError('TRANSIENT', `PKCS#11 signing failed: ${describe(cause)}`, { cause });
    }
  }

  /**
   * Closes the session, and finalizes the module (which logs the token out) when no other signer
   * uses it: PKCS#11 login state belongs to the token for the whole process, not to one session.
   */
  close(): void {
    const session = this.#session;
    if (!session) return;
    this.#session = undefined;
    try {
      session.lib.C_CloseSession(session.handle);
    } catch {
      // the session may already be gone with the token; nothing left to release
    }
    releaseModule(this.#options.module);
  }

  toJSON(): Record<string, string> {
    return { module: this.#options.module, token: this.#options.tokenLabel, key: this.#options.keyLabel };
  }

  #open(): OpenSession {
    if (this.#session) return this.#session;
    const { module, tokenLabel, keyLabel, pin } = this.#options;
    const lib = loadModule(module);
    let handle: Buffer | undefined;
    try {
      const slot = lib.C_GetSlotList(true).find((s) => lib.C_GetTokenInfo(s).label.trimEnd() === tokenLabel);
      if (!slot) throw new ChainError('BAD_INPUT', `PKCS#11: no token labelled "${tokenLabel}" in ${module}`);
      handle = lib.C_OpenSession(slot, pkcs11js.CKF_SERIAL_SESSION | pkcs11js.CKF_RW_SESSION);
      try {
        lib.C_Login(handle, pkcs11js.CKU_USER, pin);
      } catch (cause) {
        if ((cause as { code?: number }).code !== pkcs11js.CKR_USER_ALREADY_LOGGED_IN) {
          throw new ChainError('BAD_INPUT', `PKCS#11: login to token "${tokenLabel}" failed: ${describe(cause)}`);
        }
      }
      const privateKey = findObject(lib, handle, pkcs11js.CKO_PRIVATE_KEY, keyLabel);
      const publicObject = findObject(lib, handle, pkcs11js.CKO_PUBLIC_KEY, keyLabel);
      const [attribute] = lib.C_GetAttributeValue(handle, publicObject, [{ type: pkcs11js.CKA_EC_POINT }]);
      const publicKey = publicKeyFromEcPoint(attribute?.value as Buffer | undefined, keyLabel);
      this.#session = { lib, handle, privateKey, publicKey };
      return this.#session;
    } catch (err) {
      if (handle) lib.C_CloseSession(handle);
      releaseModule(module);
      if (err instanceof ChainError) throw err;
      throw new ChainError('BAD_INPUT', `PKCS#11: cannot open key "${keyLabel}" on token "${tokenLabel}": ${describe(err)}`, { cause: err });
    }
  }
}

function loadModule(path: string): pkcs11js.PKCS11 {
  const loaded = loadedModules.get(path);
  if (loaded) {
    loaded.users++;
    return loaded.lib;
  }
  const lib = new pkcs11js.PKCS11();
  try {
    lib.load(path);
    lib.C_Initialize();
  } catch (cause) {
    if ((cause as { code?: number }).code !== pkcs11js.CKR_CRYPTOKI_ALREADY_INITIALIZED) {
      throw new ChainError('BAD_INPUT', `PKCS#11: cannot load module ${path}: ${describe(cause)}`, { cause });
    }
  }
  loadedModules.set(path, { lib, users: 1 });
  return lib;
}

function releaseModule(path: string): void {
  const loaded = loadedModules.get(path);
  if (loaded && --loaded.users === 0) {
    loadedModules.delete(path);
    loaded.lib.C_Finalize();
  }
}

function findObject(lib: pkcs11js.PKCS11, session: Buffer, objectClass: number, label: string): Buffer {
  lib.C_FindObjectsInit(session, [
    { type: pkcs11js.CKA_CLASS, value: objectClass },
    { type: pkcs11js.CKA_LABEL, value: label },
  ]);
  try {
    const found = lib.C_FindObjects(session, 2);
    const kind = objectClass === pkcs11js.CKO_PRIVATE_KEY ? 'private' : 'public';
    if (found.length === 0) throw new ChainError('BAD_INPUT', `PKCS#11: no ${kind} key labelled "${label}"`);
    if (found.length > 1) throw new ChainError('BAD_INPUT', `PKCS#11: several ${kind} keys labelled "${label}"`);
    return found[0] as Buffer;
  } finally {
    lib.C_FindObjectsFinal(session);
  }
}

/** CKA_EC_POINT is a DER OCTET STRING around the point (PKCS#11 v2.40); some tokens omit the wrapper. */
function publicKeyFromEcPoint(value: Buffer | undefined, label: string): KeyObject {
  let point = value;
  if (point && point.length === UNCOMPRESSED_POINT_BYTES + 2 && point[0] === 0x04 && point[1] === UNCOMPRESSED_POINT_BYTES) point = point.subarray(2);
  if (!point || point.length !== UNCOMPRESSED_POINT_BYTES || point[0] !== 0x04) {
    throw new ChainError('BAD_INPUT', `PKCS#11: key "${label}" is not an uncompressed P-256 public key`);
  }
  try {
    return createPublicKey({ key: Buffer.concat([P256_SPKI_PREFIX, point]), format: 'der', type: 'spki' });
  } catch {
    throw new ChainError('BAD_INPUT', `PKCS#11: key "${label}" is not a P-256 key`);
  }
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
