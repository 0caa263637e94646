import { createHash, createPublicKey } from 'node:crypto';

/** Trusted signatures and attestations found for one image digest, keyed by policy key ids. */
export interface SignatureFacts {
  signedBy: string[];
  attestations: Array<{ predicateType: string; keyId: string }>;
  /** Why signatures that exist did not count (foreign key, wrong digest, malformed…). */
  problems: string[];
}

export type SignatureCheck = (image: { registry: string; repository: string; digest: string }) => Promise<SignatureFacts>;

/** The shape of the signing stage's report (`verifyImage` from src/signing). */
export interface VerificationReportLike {
  signedBy: string[];
  attestations: Array<{ predicateType: string; keyId: string; valid: boolean }>;
  failures: Array<{ code: string; reason: string }>;
}

/**
 * Adapts a cosign-compatible verifier that names keys by `sha256:<hex of DER SPKI>` to the
 * policy's key ids: one verification against every trusted key, ids mapped back.
 */
export function signatureCheckFromVerifier(
  verify: (image: { registry: string; repository: string; digest: string }, keysPem: string[]) => Promise<VerificationReportLike>,
  trustedKeys: ReadonlyMap<string, string>,
): SignatureCheck {
  const idBySpki = new Map([...trustedKeys].map(([id, pem]) => [spkiKeyId(pem), id]));
  const pems = [...trustedKeys.values()];
  return async (image) => {
    if (pems.length === 0) return { signedBy: [], attestations: [], problems: ['the policy lists no trusted keys'] };
    const report = await verify(image, pems);
    const policyId = (keyId: string) => idBySpki.get(keyId) ?? keyId;
    return {
      signedBy: report.signedBy.map(policyId).sort(),
      attestations: report.attestations.filter((a) => a.valid).map((a) => ({ predicateType: a.predicateType, keyId: policyId(a.keyId) })),
      problems: report.failures.map((f) => `${f.code}: ${f.reason}`),
    };
  };
}

/** `sha256:` + hex SHA-256 of the key's DER SubjectPublicKeyInfo (the signing stage's key id). */
export function spkiKeyId(pem: string): string {
  const der = createPublicKey(pem).export({ type: 'spki', format: 'der' });
  return `sha256:${createHash('sha256').update(der).digest('hex')}`;
}
