/**
 * Checks an image's cosign signatures and attestations against trusted public keys. Bad, foreign,
 * tampered or malformed signatures are reported, never thrown: callers (admission webhook, CLI)
 * decide what to do. Only registry outages and bad trusted keys throw.
 */
import { ChainError } from '../errors';
import { readAttachments } from './attachment-store';
import {
  type AttachmentKind,
  type AttachmentLayer,
  attachmentTag,
  MAX_ENVELOPE_BYTES,
  PREDICATE_TYPE_ANNOTATION,
  SIGNATURE_ANNOTATION,
  SIMPLE_SIGNING_MEDIA_TYPE,
} from './cosign-layout';
import { assertImageDigest } from './digest';
import { DSSE_ENVELOPE_MEDIA_TYPE, envelopeSigners, IN_TOTO_PAYLOAD_TYPE, parseEnvelope } from './dsse';
import { parseStatement, type Statement } from './in-toto';
import { PublicKeyVerifier } from './key-verifier';
import { type SignatureRegistry } from './registry-port';
import { type Verifier } from './signer';
import { parseSimpleSigningPayload } from './simple-signing';

const MAX_PAYLOAD_BYTES = 1024 * 1024;

export type VerificationFailureCode =
  /** No `.sig` manifest, or one without layers. */
  | 'NO_SIGNATURES'
  /** A signature layer without its signature annotation (stripped). */
  | 'SIGNATURE_MISSING'
  /** No trusted key verifies the signature: another key signed, or the payload was altered. */
  | 'UNTRUSTED_SIGNATURE'
  /** Correctly signed, but for another image digest. */
  | 'DIGEST_MISMATCH'
  /** Payload, envelope or statement not in the expected format. */
  | 'MALFORMED'
  /** The blob is missing, too large, or its content does not match its digest. */
  | 'UNREADABLE';

export interface VerificationFailure {
  code: VerificationFailureCode;
  reason: string;
  /** Digest of the layer concerned, when there is one. */
  layer?: string;
}

export interface AttestationCheck {
  predicateType: string;
  /** Key that signed it; empty when no trusted key did. */
  keyId: string;
  valid: boolean;
  reason?: string;
  code?: VerificationFailureCode;
  layer: string;
  /** The signed statement's predicate (valid attestations only), for readers of its content such as VSAs. */
  predicate?: unknown;
}

export interface VerificationReport {
  digest: string;
  /** Key ids of trusted keys with at least one valid signature for this digest. */
  signedBy: string[];
  attestations: AttestationCheck[];
  failures: VerificationFailure[];
}

export async function verifyImage(client: SignatureRegistry, repo: string, digest: string, trustedKeysPem: readonly string[]): Promise<VerificationReport> {
  assertImageDigest(digest);
  if (trustedKeysPem.length === 0) throw new ChainError('BAD_INPUT', 'verification needs at least one trusted public key');
  const verifiers = uniqueKeys(trustedKeysPem.map((pem, i) => PublicKeyVerifier.fromPem(pem, `trusted key #${i + 1}`)));
  const failures: VerificationFailure[] = [];
  const signatures = await readOrReport(client, repo, digest, 'sig', failures);
  if (signatures.length === 0 && failures.length === 0)
    failures.push({ code: 'NO_SIGNATURES', reason: `no signatures for ${digest} (tag ${attachmentTag(digest, 'sig')})` });
  const attestations = await readOrReport(client, repo, digest, 'att', failures);

  const signedBy = new Set<string>();
  for (const layer of signatures) {
    const outcome = await checkSignature(client, repo, digest, layer, verifiers);
    if ('failure' in outcome) failures.push({ ...outcome.failure, layer: layer.digest });
    else outcome.keyIds.forEach((k) => signedBy.add(k));
  }

  const checks: AttestationCheck[] = [];
  for (const layer of attestations) checks.push(...(await checkAttestation(client, repo, digest, layer, verifiers)).checks);
  return { digest, signedBy: [...signedBy], attestations: checks, failures };
}

export interface VerifiedPredicate {
  predicateType: string;
  /** Trusted keys whose signature over the statement verified. */
  keyIds: string[];
  predicate: unknown;
  subjectDigests: string[];
  layer: string;
}

/**
 * The predicates of the image's attestations of the given types that a trusted key signed for this
 * digest (VEX attached to an image is only believed when signed). Attestations that do not verify
 * are returned as failures, never thrown; only registry outages and bad trusted keys throw.
 */
export async function verifiedPredicates(
  client: SignatureRegistry,
  repo: string,
  digest: string,
  trustedKeysPem: readonly string[],
  predicateTypes: readonly string[],
): Promise<{ predicates: VerifiedPredicate[]; failures: AttestationCheck[] }> {
  assertImageDigest(digest);
  if (trustedKeysPem.length === 0) throw new ChainError('BAD_INPUT', 'verification needs at least one trusted public key');
  const verifiers = uniqueKeys(trustedKeysPem.map((pem, i) => PublicKeyVerifier.fromPem(pem, `trusted key #${i + 1}`)));
  const malformed: VerificationFailure[] = [];
  const layers = await readOrReport(client, repo, digest, 'att', malformed);
  const failures: AttestationCheck[] = malformed.map((f) => ({ predicateType: 'unknown', keyId: '', valid: false, code: f.code, reason: f.reason, layer: '' }));
  const predicates: VerifiedPredicate[] = [];
  for (const layer of layers) {
    const claimed = layer.annotations[PREDICATE_TYPE_ANNOTATION];
    if (claimed !== undefined && !predicateTypes.includes(claimed)) continue;
    const { checks, statement } = await checkAttestation(client, repo, digest, layer, verifiers);
    if (statement && predicateTypes.includes(statement.predicateType)) {
      predicates.push({
        predicateType: statement.predicateType,
        keyIds: checks.map((c) => c.keyId),
        predicate: statement.predicate,
        subjectDigests: statement.subjectDigests,
        layer: layer.digest,
      });
    } else if (!statement) failures.push(...checks.filter((c) => predicateTypes.includes(c.predicateType) || c.predicateType === 'unknown'));
  }
  return { predicates, failures };
}

/** Layers of the attachment manifest; a tag holding something else becomes a MALFORMED failure. */
async function readOrReport(
  client: SignatureRegistry,
  repo: string,
  digest: string,
  kind: AttachmentKind,
  failures: VerificationFailure[],
): Promise<AttachmentLayer[]> {
  try {
    return (await readAttachments(client, repo, digest, kind)).layers;
  } catch (err) {
    if (ChainError.is(err) && !err.retryable) {
      failures.push({ code: 'MALFORMED', reason: `${attachmentTag(digest, kind)}: ${err.message}` });
      return [];
    }
    throw err;
  }
}

function uniqueKeys(verifiers: Verifier[]): Verifier[] {
  return verifiers.filter((v, i) => verifiers.findIndex((w) => w.keyId === v.keyId) === i);
}

type Outcome = { keyIds: string[] } | { failure: Omit<VerificationFailure, 'layer'> };

async function checkSignature(
  client: SignatureRegistry,
  repo: string,
  digest: string,
  layer: AttachmentLayer,
  verifiers: readonly Verifier[],
): Promise<Outcome> {
  if (layer.mediaType !== SIMPLE_SIGNING_MEDIA_TYPE)
    return { failure: { code: 'MALFORMED', reason: `signature layer has media type ${layer.mediaType}, not ${SIMPLE_SIGNING_MEDIA_TYPE}` } };
  const encoded = layer.annotations[SIGNATURE_ANNOTATION];
  if (!encoded) return { failure: { code: 'SIGNATURE_MISSING', reason: `signature layer has no ${SIGNATURE_ANNOTATION} annotation` } };
  const payload = await fetchBlob(client, repo, layer.digest, MAX_PAYLOAD_BYTES);
  if ('failure' in payload) return payload;
  const signature = Buffer.from(encoded, 'base64');
  const keyIds = verifiers.filter((v) => v.verify(payload.bytes, signature)).map((v) => v.keyId);
  if (keyIds.length === 0) {
    return {
      failure: { code: 'UNTRUSTED_SIGNATURE', reason: 'signature does not verify with any trusted key (made by another key, or the payload was altered)' },
    };
  }
  const parsed = parseSimpleSigningPayload(payload.bytes);
  if (!parsed.ok) return { failure: { code: 'MALFORMED', reason: parsed.reason } };
  if (parsed.value.digest !== digest) {
    return { failure: { code: 'DIGEST_MISMATCH', reason: `signed payload is for ${parsed.value.digest}, not ${digest}` } };
  }
  return { keyIds };
}

async function checkAttestation(
  client: SignatureRegistry,
  repo: string,
  digest: string,
  layer: AttachmentLayer,
  verifiers: readonly Verifier[],
): Promise<{ checks: AttestationCheck[]; statement?: Statement }> {
  const claimedType = layer.annotations[PREDICATE_TYPE_ANNOTATION] ?? 'unknown';
  const invalid = (code: VerificationFailureCode, reason: string, predicateType = claimedType) => ({
    checks: [{ predicateType, keyId: '', valid: false, code, reason, layer: layer.digest }],
  });
  if (layer.mediaType !== DSSE_ENVELOPE_MEDIA_TYPE)
    return invalid('MALFORMED', `attestation layer has media type ${layer.mediaType}, not ${DSSE_ENVELOPE_MEDIA_TYPE}`);
  const blob = await fetchBlob(client, repo, layer.digest, MAX_ENVELOPE_BYTES);
  if ('failure' in blob) return invalid(blob.failure.code, blob.failure.reason);
  const envelope = parseEnvelope(blob.bytes);
  if (!envelope.ok) return invalid('MALFORMED', envelope.reason);
  if (envelope.value.payloadType !== IN_TOTO_PAYLOAD_TYPE)
    return invalid('MALFORMED', `envelope payload type is ${envelope.value.payloadType}, not ${IN_TOTO_PAYLOAD_TYPE}`);
  const signers = envelopeSigners(envelope.value, verifiers);
  if (signers.length === 0)
    return invalid('UNTRUSTED_SIGNATURE', 'envelope signature does not verify with any trusted key (made by another key, or the statement was altered)');
  const statement = parseStatement(envelope.value.payload);
  if (!statement.ok) return invalid('MALFORMED', statement.reason);
  const { predicateType, subjectDigests } = statement.value;
  if (!subjectDigests.includes(digest)) {
    return invalid('DIGEST_MISMATCH', `statement subject is ${subjectDigests.join(', ')}, not ${digest}`, predicateType);
  }
  if (claimedType !== predicateType && layer.annotations[PREDICATE_TYPE_ANNOTATION] !== undefined) {
    return invalid('MALFORMED', `layer annotation claims predicate type ${claimedType} but the signed statement says ${predicateType}`, predicateType);
  }
  return {
    checks: signers.map((s) => ({ predicateType, keyId: s.keyId, valid: true, layer: layer.digest, predicate: statement.value.predicate })),
    statement: statement.value,
  };
}

async function fetchBlob(
  client: SignatureRegistry,
  repo: string,
  digest: string,
  maxBytes: number,
): Promise<{ bytes: Buffer } | { failure: Omit<VerificationFailure, 'layer'> }> {
  try {
    return { bytes: await client.getBlob(repo, digest, { maxBytes }) };
  } catch (err) {
    if (ChainError.is(err) && (err.code === 'DIGEST_MISMATCH' || err.code === 'TOO_LARGE' || err.code === 'NOT_FOUND')) {
      return { failure: { code: 'UNREADABLE', reason: `blob ${digest}: ${err.message}` } };
    }
    throw err;
  }
}
