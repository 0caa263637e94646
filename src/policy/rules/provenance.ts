import { type CheckResult } from '../decision';
import { durationMs } from '../../config';
import { type ImageFacts } from '../image-facts';
import { matchesAny } from '../patterns';
import { type ProvenanceRules } from '../policy-schema';

/** Where the image comes from and what vouches for it: registry, base image, signatures, attestations, scan age. */
export function checkProvenance(facts: ImageFacts, rules: ProvenanceRules, now: Date): CheckResult {
  const violations: CheckResult['violations'] = [];
  if (rules.trustedRegistries && !matchesAny(facts.registry, rules.trustedRegistries)) {
    violations.push({
      rule: 'provenance.trustedRegistry',
      message: `registry ${facts.registry} is not a trusted source (trusted: ${rules.trustedRegistries.join(', ')})`,
      evidence: { registry: facts.registry, trusted: rules.trustedRegistries },
    });
  }
  if (rules.trustedBaseImages) {
    const base = facts.baseImage ? withoutTagOrDigest(facts.baseImage.reference) : undefined;
    if (base === undefined || !matchesAny(base, rules.trustedBaseImages)) {
      violations.push({
        rule: 'provenance.trustedBaseImage',
        message:
          base === undefined
            ? 'base image is unknown, so it cannot be trusted'
            : `base image ${facts.baseImage?.reference} is not trusted (trusted: ${rules.trustedBaseImages.join(', ')})`,
        evidence: { baseImage: facts.baseImage?.reference ?? null, trusted: rules.trustedBaseImages },
      });
    }
  }
  if (rules.requireSignatures) {
    const found = [...new Set(facts.signatures.map((s) => s.keyId))].sort();
    const missing = rules.requireSignatures.keys.filter((k) => !found.includes(k));
    const satisfied = rules.requireSignatures.match === 'all' ? missing.length === 0 : missing.length < rules.requireSignatures.keys.length;
    if (!satisfied) {
      const need =
        rules.requireSignatures.match === 'all' ? `all of ${rules.requireSignatures.keys.join(', ')}` : `one of ${rules.requireSignatures.keys.join(', ')}`;
      violations.push({
        rule: 'provenance.signatures',
        message: `needs a verified signature by ${need}; found ${found.length ? found.join(', ') : 'none'}`,
        evidence: { required: rules.requireSignatures.keys, match: rules.requireSignatures.match, found, missing },
      });
    }
  }
  if (rules.requireAttestations) {
    const present = new Set(facts.attestations.map((a) => a.predicateType));
    const missing = rules.requireAttestations.filter((t) => !present.has(t));
    if (missing.length) {
      violations.push({
        rule: 'provenance.attestations',
        message: `missing attestations: ${missing.join(', ')}`,
        evidence: { missing, present: [...present].sort() },
      });
    }
  }
  if (rules.maxScanAge) {
    const ageMs = now.getTime() - Date.parse(facts.scannedAt);
    if (ageMs > durationMs(rules.maxScanAge)) {
      violations.push({
        rule: 'provenance.scanAge',
        message: `scan from ${facts.scannedAt} is ${Math.floor(ageMs / 3_600_000)}h old, older than ${rules.maxScanAge}; rescan the image`,
        evidence: { scannedAt: facts.scannedAt, ageSeconds: Math.floor(ageMs / 1000), maxScanAge: rules.maxScanAge },
      });
    }
  }
  return { violations, warnings: [] };
}

/** `host:5000/a/b:tag@sha256:…` → `host:5000/a/b` (a colon after the last slash starts a tag). */
export function withoutTagOrDigest(reference: string): string {
  const noDigest = reference.split('@')[0] as string;
  const colon = noDigest.lastIndexOf(':');
  return colon > noDigest.lastIndexOf('/') ? noDigest.slice(0, colon) : noDigest;
}
