import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { ChainError } from '../errors';

/** Constant-time comparison of two secrets of any length (both are hashed to equal-length digests first). */
export function secretsEqual(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

/**
 * Checks the shared secret distribution and Harbor send in the Authorization header:
 * `Bearer <secret>`, `Token <secret>` or the bare value. Throws UNAUTHORIZED; the secret is never echoed.
 */
export function verifySharedSecret(authorization: string | undefined, secret: string): void {
  if (authorization === undefined || authorization === '') throw new ChainError('UNAUTHORIZED', 'missing Authorization header');
  const value = authorization.replace(/^(Bearer|Token)\s+/i, '');
  if (!secretsEqual(value, secret)) throw new ChainError('UNAUTHORIZED', "the Authorization header does not carry this source's secret");
}

export const SIGNATURE_HEADER = 'x-dchain-signature';
export const TIMESTAMP_HEADER = 'x-dchain-timestamp';

/** `sha256=<hex>` of HMAC-SHA256(key, `<timestamp>.<body>`), the value senders put in X-Dchain-Signature. */
export function signBody(key: string, timestamp: number, body: Buffer | string): string {
  return `sha256=${createHmac('sha256', key).update(`${timestamp}.`).update(body).digest('hex')}`;
}

/**
 * Verifies an HMAC-signed body: X-Dchain-Timestamp (Unix seconds) within `toleranceMs` of now
 * (a replayed old delivery fails) and X-Dchain-Signature over timestamp and body.
 */
export function verifySignature(headers: { signature?: string; timestamp?: string }, body: Buffer, key: string, toleranceMs: number, now = Date.now()): void {
  if (!headers.signature || !headers.timestamp) throw new ChainError('UNAUTHORIZED', 'missing X-Dchain-Signature or X-Dchain-Timestamp header');
  if (!/^\d{1,12}$/.test(headers.timestamp)) throw new ChainError('UNAUTHORIZED', 'X-Dchain-Timestamp is not Unix seconds');
  const timestamp = Number(headers.timestamp);
  if (Math.abs(now - timestamp * 1000) > toleranceMs) throw new ChainError('UNAUTHORIZED', 'X-Dchain-Timestamp is outside the accepted clock skew');
  if (!secretsEqual(headers.signature, signBody(key, timestamp, body))) throw new ChainError('UNAUTHORIZED', 'X-Dchain-Signature does not match the body');
}
