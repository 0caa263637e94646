import { createHash } from 'node:crypto';

/** A short stable hash, for queue job ids and Redis keys that must not contain the raw id. */
export function stableHash(...parts: string[]): string {
  return createHash('sha256').update(parts.join('\0')).digest('hex').slice(0, 40);
}
