import { z } from 'zod';
import { ChainError } from '../errors';
import { appendAttachment } from './attachment-store';
import { SIGNATURE_ANNOTATION, SIMPLE_SIGNING_MEDIA_TYPE, sha256Digest } from './cosign-layout';
import { assertImageDigest } from './digest';
import { PublicKeyVerifier } from './key-verifier';
import { type SignatureRegistry } from './registry-port';
import { type Signer } from './signer';
import { buildSimpleSigningPayload } from './simple-signing';

const annotationsSchema = z.record(z.string().min(1, 'annotation keys must not be empty'), z.string());

export interface SignImageOptions {
  /** Signed, unverified-by-default key/values in the payload's `optional` section (cosign `-a`). */
  annotations?: Record<string, string>;
}

export interface SignImageResult {
  /** The tag holding the signatures, `sha256-<hex>.sig`. */
  tag: string;
  keyId: string;
  payloadDigest: string;
  signatureManifestDigest: string;
  /** False when this key had already signed this payload: nothing was written. */
  added: boolean;
}

/**
 * Signs an image as `cosign sign --key` does: a simple-signing payload for the digest, its DER
 * ECDSA signature in the layer annotation, added to the image's `.sig` manifest next to any
 * signatures already there. Idempotent per key and payload.
 */
export async function signImage(
  client: SignatureRegistry,
  repo: string,
  digest: string,
  signer: Signer,
  options: SignImageOptions = {},
): Promise<SignImageResult> {
  assertImageDigest(digest);
  const annotations = annotationsSchema.safeParse(options.annotations ?? {});
  if (!annotations.success) throw new ChainError('BAD_INPUT', `signature annotations: ${annotations.error.issues.map((i) => i.message).join('; ')}`);
  if (!(await client.headManifest(repo, digest))) {
    throw new ChainError('NOT_FOUND', `${client.host}/${repo}@${digest} does not exist; nothing to sign`, { retryable: false });
  }
  const payload = buildSimpleSigningPayload(`${client.host}/${repo}`, digest, annotations.data);
  const payloadDigest = sha256Digest(payload);
  const ownKey = PublicKeyVerifier.fromPem(await signer.publicKeyPem(), 'signer public key');
  const signature = await signer.sign(payload);
  const result = await appendAttachment(client, repo, digest, {
    kind: 'sig',
    blob: payload,
    layer: { mediaType: SIMPLE_SIGNING_MEDIA_TYPE, annotations: { [SIGNATURE_ANNOTATION]: signature.toString('base64') } },
    isDuplicate: async (existing) =>
      existing.mediaType === SIMPLE_SIGNING_MEDIA_TYPE &&
      existing.digest === payloadDigest &&
      ownKey.verify(payload, Buffer.from(existing.annotations[SIGNATURE_ANNOTATION] ?? '', 'base64')),
  });
  return { tag: result.tag, keyId: ownKey.keyId, payloadDigest, signatureManifestDigest: result.manifestDigest, added: result.added };
}
