/**
 * API tokens: `dct_<id>_<secret>`, 32 random bytes of secret, shown once at creation. Redis keeps
 * only the id, a name, the policies, the expiry, the revocation and an scrypt hash of the secret
 * (salted per token), so a copy of Redis grants nothing. Every request re-reads the record: a
 * revocation or expiry takes effect at once; only the (costly) scrypt result is remembered, keyed
 * by the record's hash, so a revoked or re-created token is never authenticated from memory.
 */
import { createHash, randomBytes, scrypt as scryptCallback, timingSafeEqual } from 'node:crypto';
import { type Redis } from 'ioredis';
import { z } from 'zod';
import { ChainError } from '../errors';
import { policyDocumentSchema, type PolicyDocument } from './policy';

const KEY_PREFIX = 'dchain:access';
const TOKEN_PATTERN = /^dct_([a-f0-9]{16})_([A-Za-z0-9_-]{43})$/;
const SCRYPT = { N: 16384, r: 8, p: 1, keylen: 32 } as const;

export const tokenRecordSchema = z.strictObject({
  id: z.string().regex(/^[a-f0-9]{16}$/),
  name: z.string().min(1).max(200),
  policies: z.array(policyDocumentSchema).min(1),
  createdAt: z.iso.datetime(),
  expiresAt: z.iso.datetime().optional(),
  revokedAt: z.iso.datetime().optional(),
  salt: z.string(),
  hash: z.string(),
});
export type TokenRecord = z.infer<typeof tokenRecordSchema>;
/** What listings show: everything but the hash material. */
export type TokenInfo = Omit<TokenRecord, 'salt' | 'hash'>;

export const createTokenSchema = z.strictObject({
  name: z.string().trim().min(1, 'a name').max(200),
  policies: z.array(policyDocumentSchema).min(1, 'at least one policy document'),
  /** Absolute expiry; absent = never expires (revoke it instead). */
  expiresAt: z.iso.datetime({ offset: true }).optional(),
});
export type CreateToken = z.infer<typeof createTokenSchema>;

/** Why a presented token does not authenticate (said in the 401 and in the audit entry). */
export type TokenRefusal = 'malformed' | 'unknown' | 'expired' | 'revoked' | 'wrong-secret';

export type Authentication = { ok: true; token: TokenInfo } | { ok: false; refusal: TokenRefusal; tokenId?: string };

function scrypt(secret: string, salt: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scryptCallback(secret, salt, SCRYPT.keylen, { N: SCRYPT.N, r: SCRYPT.r, p: SCRYPT.p }, (err, key) => (err ? reject(err) : resolve(key))),
  );
}

export function info(record: TokenRecord): TokenInfo {
  const { salt: _salt, hash: _hash, ...rest } = record;
  return rest;
}

export class TokenStore {
  /** sha256(token) → the record hash it was verified against. */
  private readonly verified = new Map<string, string>();

  constructor(
    private readonly redis: Redis,
    private readonly now: () => Date = () => new Date(),
  ) {}

  private key(id: string): string {
    return `${KEY_PREFIX}:token:${id}`;
  }

  /** Creates a token; the returned `secret` (the whole token) is never stored and cannot be shown again. */
  async create(request: CreateToken): Promise<{ token: TokenInfo; secret: string }> {
    const parsed = createTokenSchema.safeParse(request);
    if (!parsed.success) throw new ChainError('BAD_INPUT', `token: ${z.prettifyError(parsed.error)}`);
    const { name, policies, expiresAt } = parsed.data;
    if (expiresAt !== undefined && Date.parse(expiresAt) <= this.now().getTime()) throw new ChainError('BAD_INPUT', `token expiry ${expiresAt} is in the past`);
    const id = randomBytes(8).toString('hex');
    const secret = `dct_${id}_${randomBytes(32).toString('base64url')}`;
    const salt = randomBytes(16);
    const record: TokenRecord = {
      id,
      name,
      policies,
      createdAt: this.now().toISOString(),
      ...(expiresAt ? { expiresAt: new Date(expiresAt).toISOString() } : {}),
      salt: salt.toString('base64'),
      hash: (await scrypt(secret, salt)).toString('base64'),
    };
    await this.redis.multi().set(this.key(id), JSON.stringify(record)).zadd(`${KEY_PREFIX}:tokens`, Date.now(), id).exec();
    return { token: info(record), secret };
  }

  async get(id: string): Promise<TokenRecord | undefined> {
    const raw = await this.redis.get(this.key(id));
    if (raw === null) return undefined;
    const parsed = tokenRecordSchema.safeParse(JSON.parse(raw));
    // A record that does not parse authenticates nobody (fail closed), and says so.
    if (!parsed.success) throw new ChainError('INTERNAL', `token record ${id} in Redis is malformed: ${z.prettifyError(parsed.error)}`);
    return parsed.data;
  }

  async list(): Promise<TokenInfo[]> {
    const ids = await this.redis.zrange(`${KEY_PREFIX}:tokens`, 0, -1);
    const records = await Promise.all(ids.map((id) => this.get(id)));
    return records.flatMap((r) => (r ? [info(r)] : []));
  }

  /** Revokes a token (kept, marked, so listings and the audit log still name it). */
  async revoke(id: string): Promise<TokenInfo> {
    const record = await this.get(id);
    if (!record) throw new ChainError('NOT_FOUND', `no token with id ${id}`);
    if (!record.revokedAt) {
      record.revokedAt = this.now().toISOString();
      await this.redis.set(this.key(id), JSON.stringify(record));
    }
    return info(record);
  }

  /** Checks a presented token: format, existence, revocation, expiry, then the secret. */
  async authenticate(presented: string): Promise<Authentication> {
    const match = TOKEN_PATTERN.exec(presented);
    if (!match) return { ok: false, refusal: 'malformed' };
    const id = match[1] as string;
    const record = await this.get(id);
    if (!record) return { ok: false, refusal: 'unknown', tokenId: id };
    if (record.revokedAt) return { ok: false, refusal: 'revoked', tokenId: id };
    if (record.expiresAt && Date.parse(record.expiresAt) <= this.now().getTime()) return { ok: false, refusal: 'expired', tokenId: id };
    const fingerprint = createHash('sha256').update(presented).digest('hex');
    if (this.verified.get(fingerprint) !== record.hash) {
      const expected = Buffer.from(record.hash, 'base64');
      const actual = await scrypt(presented, Buffer.from(record.salt, 'base64'));
      if (actual.length !== expected.length || !timingSafeEqual(actual, expected)) return { ok: false, refusal: 'wrong-secret', tokenId: id };
      if (this.verified.size > 10_000) this.verified.clear();
      this.verified.set(fingerprint, record.hash);
    }
    return { ok: true, token: info(record) };
  }
}

/** The policies of a token, validated (for callers that load them from files). */
export function parsePolicies(value: unknown): PolicyDocument[] {
  const parsed = z
    .array(policyDocumentSchema)
    .min(1)
    .safeParse(Array.isArray(value) ? value : [value]);
  if (!parsed.success) throw new ChainError('BAD_INPUT', `policy document: ${z.prettifyError(parsed.error)}`);
  return parsed.data;
}
