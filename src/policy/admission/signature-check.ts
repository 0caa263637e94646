import { createHash, createPublicKey } from 'node:crypto';
import { VSA_PREDICATE_TYPE } from '../../signing';

/** Trusted signatures and attestations found for one image digest, keyed by policy key ids. */
export interface SignatureFacts {
  signedBy: string[];
  attestations: Array<{ predicateType: string; keyId: string }>;
  /** Predicates of the valid SLSA verification summaries, by the policy key that signed them. */
  summaries?: Array<{ keyId: string; predicate: unknown }>;
  /** Why signatures that exist did not count (foreign key, wrong digest, malformed…). */
  problems: string[];
}

/** `signal` aborts the check at its deadline: registry calls in flight are abandoned and none starts. */
export type SignatureCheck = (image: { registry: string; repository: string; digest: string }, signal?: AbortSignal) => Promise<SignatureFacts>;

/** The shape of the signing stage's report (`verifyImage` from src/signing). */
export interface VerificationReportLike {
  signedBy: string[];
  attestations: Array<{ predicateType: string; keyId: string; valid: boolean; predicate?: unknown }>;
  failures: Array<{ code: string; reason: string }>;
}

/**
 * Adapts a cosign-compatible verifier that names keys by `sha256:<hex of DER SPKI>` to the
 * policy's key ids: one verification against every trusted key, ids mapped back.
 */
export function signatureCheckFromVerifier(
  verify: (image: { registry: string; repository: string; digest: string }, keysPem: string[], signal?: AbortSignal) => Promise<VerificationReportLike>,
  trustedKeys: ReadonlyMap<string, string>,
): SignatureCheck {
  const idBySpki = new Map([...trustedKeys].map(([id, pem]) => [spkiKeyId(pem), id]));
  const pems = [...trustedKeys.values()];
  return async (image, signal) => {
    if (pems.length === 0) return { signedBy: [], attestations: [], summaries: [], problems: ['the policy lists no trusted keys'] };
    const report = await verify(image, pems, signal);
    const policyId = (keyId: string) => idBySpki.get(keyId) ?? keyId;
    return {
      signedBy: report.signedBy.map(policyId).sort(),
      attestations: report.attestations.filter((a) => a.valid).map((a) => ({ predicateType: a.predicateType, keyId: policyId(a.keyId) })),
      summaries: report.attestations
        .filter((a) => a.valid && a.predicateType === VSA_PREDICATE_TYPE)
        .map((a) => ({ keyId: policyId(a.keyId), predicate: a.predicate })),
      problems: report.failures.map((f) => `${f.code}: ${f.reason}`),
    };
  };
}

/** `sha256:` + hex SHA-256 of the key's DER SubjectPublicKeyInfo (the signing stage's key id). */
export function spkiKeyId(pem: string): string {
  const der = createPublicKey(pem).export({ type: 'spki', format: 'der' });
  return `sha256:${createHash('sha256').update(der).digest('hex')}`;
}
