import { ChainError } from '../errors';
import { sha256DigestSchema } from '../registry';

/** An image manifest digest as the signature formats use it. */
export const imageDigestSchema = sha256DigestSchema();

export function assertImageDigest(digest: string): string {
  const parsed = imageDigestSchema.safeParse(digest);
  if (!parsed.success) throw new ChainError('BAD_INPUT', `image digest ${JSON.stringify(digest)} is not a sha256:<64 hex> digest`);
  return parsed.data;
}
