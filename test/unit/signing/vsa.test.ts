import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { summaryDenial } from '../../../src/policy/admission/summary-verdict';
import { buildVsa, parseVsa, PREDICATE_TYPES, VSA_PREDICATE_TYPE, vsaFromChainAttestations } from '../../../src/signing';

const digest = `sha256:${'a'.repeat(64)}`;
const image = { registry: 'registry.example.com', repository: 'team/app', digest };
const vsa = (passed: boolean, at: string) =>
  buildVsa({ ...image, passed, policyVersion: 'cluster:3:sha256-0123456789ab', timeVerified: at, scanDataVersion: 'osv-1' });

void describe('SLSA verification summaries', () => {
  void it('carry the fields of verification_summary v1 and parse back', () => {
    const predicate = vsa(true, '2026-12-01T10:00:00Z');
    assert.equal(VSA_PREDICATE_TYPE, 'https://slsa.dev/verification_summary/v1');
    assert.equal(predicate.resourceUri, `oci://registry.example.com/team/app@${digest}`);
    assert.equal(predicate.verificationResult, 'PASSED');
    assert.equal(predicate.timeVerified, '2026-12-01T10:00:00.000Z');
    assert.deepEqual(predicate.verifiedLevels, []);
    assert.equal(predicate.verifier.version?.['osv-data'], 'osv-1');
    assert.match(predicate.policy.uri ?? '', /policies\/cluster\/3#sha256-0123456789ab$/);
    assert.equal(parseVsa(JSON.parse(JSON.stringify(predicate))).ok, true);
    assert.equal(parseVsa({ verificationResult: 'MAYBE' }).ok, false);
  });

  void it('derive from the gate decision the sign stage receives, the same on every retry', () => {
    const attestations = [
      { predicateType: PREDICATE_TYPES.vulnerabilityScan, predicate: { scannedAt: '2026-12-01T09:59:00Z', osv: { version: 'osv-7' } } },
      {
        predicateType: PREDICATE_TYPES.gateDecision,
        predicate: { allowed: false, policyVersion: 'p:1:sha256-aaaaaaaaaaaa', evaluatedAt: '2026-12-01T10:00:00Z', violations: [] },
      },
    ];
    const first = vsaFromChainAttestations(image, attestations, PREDICATE_TYPES);
    assert.deepEqual(first, vsaFromChainAttestations(image, attestations, PREDICATE_TYPES));
    assert.equal(first?.verificationResult, 'FAILED');
    assert.equal(first?.verifier.version?.['osv-data'], 'osv-7');
    assert.equal(vsaFromChainAttestations(image, [], PREDICATE_TYPES), undefined);
  });

  void it('decide registry-only admission from the newest valid summary, within its max age', () => {
    const now = new Date('2026-12-01T12:00:00Z');
    const facts = (...predicates: unknown[]) => ({
      signedBy: ['release'],
      attestations: [],
      problems: [],
      summaries: predicates.map((predicate) => ({ keyId: 'release', predicate })),
    });
    const day = 24 * 3_600_000;
    assert.equal(summaryDenial('r/app', digest, facts(vsa(true, '2026-12-01T10:00:00Z')), now, day), undefined);
    assert.match(summaryDenial('r/app', digest, facts(), now, day) ?? '', /has no verification summary/);
    // A newer FAILED summary (a rescan turned it denied) revokes the older PASSED one.
    assert.match(summaryDenial('r/app', digest, facts(vsa(true, '2026-12-01T10:00:00Z'), vsa(false, '2026-12-01T11:00:00Z')), now, day) ?? '', /says FAILED/);
    assert.match(summaryDenial('r/app', digest, facts(vsa(true, '2026-11-29T10:00:00Z')), now, day) ?? '', /no recent verification/);
    const other = buildVsa({ ...image, digest: `sha256:${'b'.repeat(64)}`, passed: true, policyVersion: 'p:1:x', timeVerified: '2026-12-01T10:00:00Z' });
    assert.match(summaryDenial('r/app', digest, facts(other), now, day) ?? '', /not sha256:a/);
  });
});
