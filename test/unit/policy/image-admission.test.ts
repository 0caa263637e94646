import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ImageAdmission } from '../../../src/policy/admission/image-admission';
import { type DecisionRecord, type DecisionStore } from '../../../src/policy/decision-store';
import { evaluatePolicy } from '../../../src/policy/evaluate';
import { DIGEST, facts, finding, NOW, policyWith } from './fixtures';

const policy = policyWith({ vulnerabilities: { maxSeverity: { fixable: 'MEDIUM' } } }, { sidecars: [{ image: 'docker.io/istio/proxyv2', reason: 'istio' }] });
const image = `registry.example.com/team/app@${DIGEST}`;

/** Counts the store and registry calls behind each answer. */
function setup(initial: DecisionRecord | undefined) {
  let record = initial;
  const calls = { latest: 0, signatures: 0, resolve: 0 };
  const admission = new ImageAdmission({
    policy: () => policy,
    decisions: { latest: async () => (calls.latest++, record) } as unknown as DecisionStore,
    checkSignatures: async () => (calls.signatures++, { signedBy: ['release'], attestations: [], problems: [] }),
    resolveTag: async () => (calls.resolve++, DIGEST),
    now: () => NOW,
  });
  return { admission, calls, setRecord: (r: DecisionRecord) => (record = r) };
}

const recordOf = (f = facts()): DecisionRecord => ({ decision: evaluatePolicy(f, policy, NOW), facts: f, recordedAt: NOW.toISOString() });

void describe('ImageAdmission', () => {
  void it('answers repeated admissions from its cache, per container name', async () => {
    const { admission, calls } = setup(recordOf());
    assert.deepEqual(await admission.admit({ container: 'containers[a]', image }, 'shop'), { allowed: true, warnings: [] });
    const second = await admission.admit({ container: 'containers[b]', image: `registry.example.com/team/app:1@${DIGEST}` }, 'shop');
    assert.equal(second.allowed, true);
    await admission.admit({ container: 'containers[c]', image }, 'shop');
    assert.deepEqual(calls, { latest: 1, signatures: 1, resolve: 0 });
  });

  void it('sees a new decision once the digest is invalidated', async () => {
    const vulnerable = recordOf(facts({ findings: [finding('CVE-2026-0001', 'CRITICAL', true)] }));
    const { admission, calls, setRecord } = setup(vulnerable);
    const denied = await admission.admit({ container: 'containers[app]', image }, 'shop');
    assert.equal(denied.allowed, false);
    assert.match(
      denied.allowed ? '' : denied.message,
      /^containers\[app\]: registry\.example\.com\/team\/app@sha256:(ab){32} is denied by policy test:unversioned:sha256-[0-9a-f]{12}: \[vulnerabilities\.fixable\] CRITICAL CVE-2026-0001/,
    );
    setRecord({ ...vulnerable, override: { actor: 'alice', reason: 'incident', at: NOW.toISOString() } });
    assert.equal((await admission.admit({ container: 'containers[app]', image }, 'shop')).allowed, false, 'still cached');
    admission.invalidate(DIGEST);
    const overridden = await admission.admit({ container: 'containers[app]', image }, 'shop');
    assert.equal(overridden.allowed, true);
    assert.match(overridden.warnings.join('\n'), /^containers\[app\]: denied by policy but admitted by break-glass override of alice \(incident\)$/m);
    assert.equal(calls.latest, 2);
  });

  void it('refuses invalid references and tags, naming the digest to use', async () => {
    const { admission } = setup(recordOf());
    const bad = await admission.admit({ container: 'containers[x]', image: 'Not A Ref' }, 'shop');
    assert.equal(bad.allowed, false);
    assert.match(bad.allowed ? '' : bad.message, /is not a valid reference/);
    const tagged = await admission.admit({ container: 'containers[x]', image: 'registry.example.com/team/app:1.0' }, 'shop');
    assert.match(tagged.allowed ? '' : tagged.message, new RegExp(`reference it by digest: registry\\.example\\.com/team/app@${DIGEST}$`));
  });

  void it('lets allowlisted sidecars through without asking the store', async () => {
    const { admission, calls } = setup(undefined);
    for (const short of ['istio/proxyv2:1.22', 'docker.io/istio/proxyv2:1.22', `docker.io/istio/proxyv2@${DIGEST}`]) {
      const verdict = await admission.admit({ container: 'containers[istio-proxy]', image: short }, 'shop');
      assert.equal(verdict.allowed, true, short);
      assert.match(verdict.warnings[0] ?? '', /^containers\[istio-proxy\]: .* admitted as an allowlisted sidecar \(istio\)$/);
    }
    assert.equal(calls.latest, 0);
    const lookalike = await admission.admit({ container: 'containers[x]', image: 'proxyv2:1.22' }, 'shop');
    assert.equal(lookalike.allowed, false, 'docker.io/library/proxyv2 is not the allowlisted sidecar');
  });
});
