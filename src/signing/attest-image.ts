import { ChainError } from '../errors';
import { appendAttachment } from './attachment-store';
import { MAX_ENVELOPE_BYTES, PREDICATE_TYPE_ANNOTATION, SIGNATURE_ANNOTATION } from './cosign-layout';
import { assertImageDigest } from './digest';
import { DSSE_ENVELOPE_MEDIA_TYPE, envelopeSigners, IN_TOTO_PAYLOAD_TYPE, parseEnvelope, signEnvelope } from './dsse';
import { buildStatement, predicateTypeSchema } from './in-toto';
import { PublicKeyVerifier } from './key-verifier';
import { type SignatureRegistry } from './registry-port';
import { type Signer } from './signer';

export interface AttestImageResult {
  tag: string;
  keyId: string;
  predicateType: string;
  envelopeDigest: string;
  attestationManifestDigest: string;
  added: boolean;
}

export interface AttestImageOptions {
  /**
   * Replace this key's earlier attestation of the same predicate type for the digest instead of
   * adding a second one (`cosign attest --replace`): a chain that runs again (a retry after a
   * failure, a break-glass) re-attests with new scan times, and `.att` keeps one statement per
   * predicate type and key.
   */
  replace?: boolean;
}

/**
 * Attaches a signed in-toto Statement about the image, laid out as `cosign attest --key` lays it
 * out: a DSSE envelope layer in the `.att` manifest, annotated with its predicate type. Adding
 * the same statement with the same key again writes nothing.
 */
export async function attestImage(
  client: SignatureRegistry,
  repo: string,
  digest: string,
  signer: Signer,
  predicateType: string,
  predicate: unknown,
  options: AttestImageOptions = {},
): Promise<AttestImageResult> {
  assertImageDigest(digest);
  if (!predicateTypeSchema.safeParse(predicateType).success) throw new ChainError('BAD_INPUT', `predicate type ${JSON.stringify(predicateType)} is not a URI`);
  if (predicate === undefined || typeof predicate === 'function') throw new ChainError('BAD_INPUT', 'attestation predicate must be a JSON value');
  if (!(await client.headManifest(repo, digest))) {
    throw new ChainError('NOT_FOUND', `${client.host}/${repo}@${digest} does not exist; nothing to attest`, { retryable: false });
  }
  const statement = buildStatement(`${client.host}/${repo}`, digest, predicateType, predicate);
  const ownKey = PublicKeyVerifier.fromPem(await signer.publicKeyPem(), 'signer public key');
  const envelope = await signEnvelope(IN_TOTO_PAYLOAD_TYPE, statement, signer);
  const result = await appendAttachment(client, repo, digest, {
    kind: 'att',
    blob: envelope,
    // cosign leaves the signature annotation empty for attestations: the signature is inside the envelope.
    layer: { mediaType: DSSE_ENVELOPE_MEDIA_TYPE, annotations: { [SIGNATURE_ANNOTATION]: '', [PREDICATE_TYPE_ANNOTATION]: predicateType } },
    isDuplicate: async (existing) => {
      if (existing.mediaType !== DSSE_ENVELOPE_MEDIA_TYPE || existing.annotations[PREDICATE_TYPE_ANNOTATION] !== predicateType) return false;
      const parsed = parseEnvelope(await client.getBlob(repo, existing.digest, { maxBytes: MAX_ENVELOPE_BYTES }));
      return parsed.ok && parsed.value.payload.equals(statement) && envelopeSigners(parsed.value, [ownKey]).length > 0;
    },
    ...(options.replace
      ? {
          // Same type, signed by this key: an earlier version of this statement (other keys' attestations stay).
          supersedes: async (existing) => {
            if (existing.mediaType !== DSSE_ENVELOPE_MEDIA_TYPE || existing.annotations[PREDICATE_TYPE_ANNOTATION] !== predicateType) return false;
            const parsed = parseEnvelope(await client.getBlob(repo, existing.digest, { maxBytes: MAX_ENVELOPE_BYTES }));
            return parsed.ok && envelopeSigners(parsed.value, [ownKey]).length > 0;
          },
        }
      : {}),
  });
  return {
    tag: result.tag,
    keyId: ownKey.keyId,
    predicateType,
    envelopeDigest: result.layerDigest,
    attestationManifestDigest: result.manifestDigest,
    added: result.added,
  };
}
