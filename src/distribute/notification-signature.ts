import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Outgoing notifications are signed like Stripe's webhooks: HMAC-SHA256 over `<timestamp>.<body>`,
 * sent as `X-Dchain-Signature: t=<unix seconds>,v1=<hex>`. Binding the timestamp into the MAC lets a
 * receiver refuse replays older than its tolerance.
 */
export const SIGNATURE_HEADER = 'x-dchain-signature';

export function signNotification(secret: string, body: string, timestampSeconds: number): string {
  const mac = createHmac('sha256', secret).update(`${timestampSeconds}.${body}`).digest('hex');
  return `t=${timestampSeconds},v1=${mac}`;
}

export type SignatureCheck = { valid: true } | { valid: false; reason: string };

/** What a subscriber runs: checks the MAC and that the timestamp is within `toleranceSeconds` of now. */
export function verifyNotification(secret: string, body: string, header: string | undefined, nowSeconds: number, toleranceSeconds = 300): SignatureCheck {
  if (!header) return { valid: false, reason: 'missing signature header' };
  const parts = new Map(header.split(',').map((p) => p.trim().split('=', 2) as [string, string]));
  const t = Number(parts.get('t'));
  const v1 = parts.get('v1');
  if (!Number.isInteger(t) || !v1 || !/^[0-9a-f]{64}$/.test(v1)) return { valid: false, reason: 'malformed signature header' };
  if (Math.abs(nowSeconds - t) > toleranceSeconds) return { valid: false, reason: `timestamp ${t} outside the ${toleranceSeconds}s tolerance` };
  const expected = Buffer.from(createHmac('sha256', secret).update(`${t}.${body}`).digest('hex'), 'hex');
  if (!timingSafeEqual(expected, Buffer.from(v1, 'hex'))) return { valid: false, reason: 'signature does not match' };
  return { valid: true };
}
