import { z } from 'zod';
import { ChainError } from '../errors/chain-error';

/** An image manifest digest as the signature formats use it. */
export const imageDigestSchema = z.string().regex(/^sha256:[a-f0-9]{64}$/, 'a sha256:<64 hex> digest');

export function assertImageDigest(digest: string): string {
  const parsed = imageDigestSchema.safeParse(digest);
  if (!parsed.success) throw new ChainError('BAD_INPUT', `image digest ${JSON.stringify(digest)} is not a sha256:<64 hex> digest`);
  return parsed.data;
}
