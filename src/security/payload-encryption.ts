import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { ChainError } from '../errors';
import { type PayloadCodecConfig } from '../config';
import { readSecurityFile } from './tls-files';

/** A Temporal payload, structurally (src/ has no Temporal imports; @temporalio/common's Payload fits it). */
export interface EncodedPayload {
  metadata?: Record<string, Uint8Array> | null;
  data?: Uint8Array | null;
}

/** The metadata encoding of an encrypted payload, and where its key id is. */
export const ENCRYPTED_ENCODING = 'binary/encrypted';
export const KEY_ID_METADATA = 'encryption-key-id';
const IV_BYTES = 12;
const TAG_BYTES = 16;
const text = new TextEncoder();
const decodeText = (b: Uint8Array | undefined) => (b ? Buffer.from(b).toString('utf8') : undefined);

/**
 * AES-256-GCM over the whole payload (its metadata and data, as JSON), so Temporal's histories, the
 * UI and the CLI see only `binary/encrypted` and the key id. A payload without that encoding is
 * passed through on decode: histories written before the codec was turned on still replay and read.
 * The key id is authenticated (additional data), so a payload cannot be re-labelled to another key.
 */
export class PayloadEncryption {
  private readonly keys: Map<string, Buffer>;
  private readonly current: string;

  constructor(keys: Map<string, Buffer>, current: string) {
    for (const [id, key] of keys) {
      if (key.length !== 32) throw new ChainError('CONFIG_INVALID', `payload codec key "${id}" is ${key.length} bytes; AES-256 needs 32`);
    }
    if (!keys.has(current)) throw new ChainError('CONFIG_INVALID', `payload codec key "${current}" is not among the keys`);
    this.keys = keys;
    this.current = current;
  }

  static fromConfig(config: PayloadCodecConfig): PayloadEncryption {
    const keys = new Map(config.keys.map((k) => [k.id, parseKey(readSecurityFile(k.file, `payload codec key file (key "${k.id}")`), k.id)]));
    return new PayloadEncryption(keys, config.encryptWith ?? (config.keys[0] as { id: string }).id);
  }

  async encode(payloads: EncodedPayload[]): Promise<EncodedPayload[]> {
    return payloads.map((p) => this.encrypt(p));
  }

  async decode(payloads: EncodedPayload[]): Promise<EncodedPayload[]> {
    return payloads.map((p) => this.decrypt(p));
  }

  encrypt(payload: EncodedPayload): EncodedPayload {
    const key = this.keys.get(this.current) as Buffer;
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', key, iv);
    cipher.setAAD(Buffer.from(this.current));
    const plain = Buffer.from(JSON.stringify(serialize(payload)));
    const sealed = Buffer.concat([iv, cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
    return { metadata: { encoding: text.encode(ENCRYPTED_ENCODING), [KEY_ID_METADATA]: text.encode(this.current) }, data: sealed };
  }

  decrypt(payload: EncodedPayload): EncodedPayload {
    if (decodeText(payload.metadata?.encoding ?? undefined) !== ENCRYPTED_ENCODING) return payload;
    const id = decodeText(payload.metadata?.[KEY_ID_METADATA]);
    const key = id === undefined ? undefined : this.keys.get(id);
    if (id === undefined || key === undefined) {
      throw new ChainError(
        'CONFIG_INVALID',
        `an encrypted Temporal payload names key "${id ?? '(none)'}", which is not among temporal.codec.keys (${[...this.keys.keys()].join(', ')}): keep retired keys listed while histories need them`,
      );
    }
    const sealed = Buffer.from(payload.data ?? new Uint8Array());
    if (sealed.length < IV_BYTES + TAG_BYTES) throw new ChainError('BAD_INPUT', `an encrypted Temporal payload (key "${id}") is truncated`);
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, sealed.subarray(0, IV_BYTES));
      decipher.setAAD(Buffer.from(id));
      decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
      const plain = Buffer.concat([decipher.update(sealed.subarray(IV_BYTES, sealed.length - TAG_BYTES)), decipher.final()]);
      return deserialize(JSON.parse(plain.toString('utf8')) as SerializedPayload);
    } catch (cause) {
      throw new ChainError('BAD_INPUT', `an encrypted Temporal payload (key "${id}") does not decrypt: wrong key content or tampered data`, { cause });
    }
  }
}

/** 32 bytes: the raw file, or its text as base64 or hex (what `openssl rand -base64 32` / `-hex 32` write). */
function parseKey(file: Buffer, id: string): Buffer {
  if (file.length === 32) return file;
  const trimmed = file.toString('utf8').trim();
  if (/^[0-9a-fA-F]{64}$/.test(trimmed)) return Buffer.from(trimmed, 'hex');
  const base64 = Buffer.from(trimmed, 'base64');
  if (base64.length === 32 && /^[A-Za-z0-9+/=_-]+$/.test(trimmed)) return base64;
  throw new ChainError('CONFIG_INVALID', `payload codec key "${id}": the file must hold 32 bytes (raw, base64 or hex; e.g. \`openssl rand -base64 32\`)`);
}

interface SerializedPayload {
  m: Record<string, string>;
  d: string;
}

function serialize(p: EncodedPayload): SerializedPayload {
  return {
    m: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
    d: Buffer.from(p.data ?? new Uint8Array()).toString('base64'),
  };
}

function deserialize(s: SerializedPayload): EncodedPayload {
  return {
    metadata: Object.fromEntries(Object.entries(s.m).map(([k, v]) => [k, new Uint8Array(Buffer.from(v, 'base64'))])),
    data: new Uint8Array(Buffer.from(s.d, 'base64')),
  };
}
