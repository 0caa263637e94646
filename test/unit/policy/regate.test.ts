import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type DecisionRecord, evaluatePolicy, regate } from '../../../src/policy';
import { decisionRecordSchema } from '../../../src/policy/decision-store';
import { findingFacts } from '../../../src/policy/facts-from-scan';
import { type FindingFact } from '../../../src/policy/image-facts';
import { findingFactsDigest, findingsCompareDigest } from '../../../src/policy/findings-digest';
import { type Finding, type OsvDataVersion } from '../../../src/scan';
import { DIGEST, facts, finding, GOOD_DATA, NOW, policyWith } from './fixtures';

const policy = policyWith({ vulnerabilities: { maxSeverity: { fixable: 'HIGH', unfixable: 'HIGH' } } });
const LATER = new Date(NOW.getTime() + 24 * 3_600_000);
const context = { policy, now: LATER, workflowId: 'dchain-rescan-2026-06-02T12:00:00Z', osvVersion: 'osv-2' };

/** A gate decision recorded for the clean fixture image, optionally with findings and a break-glass override. */
function recorded(findings: ReturnType<typeof finding>[] = [], override = false): DecisionRecord {
  const f = facts({ findings });
  return {
    decision: evaluatePolicy(f, policy, NOW),
    facts: f,
    recordedAt: NOW.toISOString(),
    ...(override ? { override: { actor: 'alice@example.com', reason: 'INC-1', at: NOW.toISOString() } } : {}),
  };
}

/** The scanner's form of a policy finding fixture. */
function scanned(...found: ReturnType<typeof finding>[]): { digest: string; scannedAt: string; findings: Finding[]; vulnerabilityData: OsvDataVersion } {
  return {
    digest: DIGEST,
    scannedAt: LATER.toISOString(),
    vulnerabilityData: { ...GOOD_DATA, importedAt: LATER.toISOString(), newestModified: '' },
    findings: found.map((f) => ({
      id: f.id,
      ids: [f.id],
      aliases: f.aliases,
      package: { name: f.package, version: f.version, ecosystem: 'Debian', purl: `pkg:deb/debian/${f.package}@${f.version}`, layer: 'sha256:00' },
      severity: f.severity,
      fixable: f.fixable,
      ...(f.fixedVersion ? { fixedVersion: f.fixedVersion as string } : {}),
    })),
  };
}

/** `rescan` matched against Debian data `age` old, past the maximum of 6 h. */
function staleDebian<T extends ReturnType<typeof scanned>>(rescan: T, age: string): T {
  rescan.vulnerabilityData.problems = [
    {
      kind: 'stale',
      ecosystem: 'Debian',
      packages: 4,
      ageSeconds: 90_000,
      maxAgeSeconds: 21_600,
      message: `vulnerability data for Debian is ${age} old (updated …), older than the maximum 6h: 4 packages checked against stale data`,
    },
  ];
  return rescan;
}

describe('regate: a stored decision re-evaluated on rescanned findings', () => {
  it('records a denial when a CRITICAL advisory appears, keeping provenance and hygiene facts', () => {
    const previous = recorded();
    const { update, outcome } = regate(previous, scanned(finding('CVE-2026-1', 'CRITICAL', true)), context);
    assert.equal(outcome.verdict, 'denied');
    assert.equal(outcome.recorded, true);
    assert.equal(outcome.findingsChanged, true);
    assert.equal(outcome.previousAllowed, true);
    assert.equal(outcome.allowed, false);
    assert.ok(update?.kind === 'decision', `a new decision joins the history (got ${update?.kind})`);
    assert.equal(update.reason, 'rescan');
    assert.equal(update.record.decision.allowed, false);
    assert.deepEqual(update.record.facts.signatures, previous.facts.signatures);
    assert.deepEqual(update.record.facts.hygiene, previous.facts.hygiene);
    assert.equal(update.record.facts.scannedAt, LATER.toISOString());
    assert.deepEqual(update.record.lastRescan, {
      workflowId: context.workflowId,
      osvVersion: 'osv-2',
      at: LATER.toISOString(),
      previousAllowed: true,
      findingsChanged: true,
      recorded: true,
      notified: false,
    });
    assert.equal(outcome.notify, 'denied', 'subscribers are to hear of it');
  });

  it('denies when the rescan matched against stale data, naming the ecosystem and the age (same rule as the first scan)', () => {
    const { update, outcome } = regate(recorded(), staleDebian(scanned(), '1d 1h'), context);
    assert.equal(outcome.verdict, 'denied');
    assert.equal(outcome.recorded, true);
    assert.ok(update?.kind === 'decision');
    const violation = update.record.decision.violations[0]!;
    assert.equal(violation.rule, 'vulnerabilities.data');
    assert.match(violation.message, /vulnerability data for Debian is 1d 1h old/);
    // And a rescan that does not say which data it used is not trusted either.
    const { vulnerabilityData: _none, ...unstated } = scanned();
    assert.equal(regate(recorded(), unstated, context).outcome.allowed, false);
  });

  it('records a denial that now denies for another reason: other problems with the data, another policy (a stale ecosystem growing older is no change)', () => {
    const critical = finding('CVE-2026-1', 'CRITICAL', true);
    const stale = (age: string) => staleDebian(scanned(critical), age);
    const previous = recorded([critical]);
    assert.equal(previous.decision.allowed, false);
    // Denied for the advisory, and now for the stale data as well: same findings, same verdict.
    const first = regate(previous, stale('1d 1h'), context);
    assert.deepEqual([first.outcome.verdict, first.outcome.findingsChanged, first.outcome.recorded], ['unchanged', false, true]);
    assert.ok(first.update?.kind === 'decision', 'a new decision, which names the stale data');
    assert.ok(first.update.record.decision.violations.some((v) => v.rule === 'vulnerabilities.data' && /Debian is 1d 1h old/.test(v.message)));
    assert.equal(first.outcome.notify, undefined, 'the image was denied before: nothing to tell subscribers');
    // The same ecosystem a day older: the same reason.
    const older = regate(first.update.record, stale('2d 1h'), { ...context, workflowId: 'dchain-rescan-2026-06-03T12:00:00Z' });
    assert.deepEqual([older.outcome.recorded, older.update?.kind], [false, 'refresh']);
    // Fresh data again: the stale reason goes.
    const fresh = regate(first.update.record, scanned(critical), { ...context, workflowId: 'dchain-rescan-2026-06-03T12:00:00Z' });
    assert.equal(fresh.outcome.recorded, true);
    assert.ok(fresh.update?.kind === 'decision');
    assert.equal(
      fresh.update.record.decision.violations.some((v) => v.rule === 'vulnerabilities.data'),
      false,
    );
    // Another policy that denies the same image: its decision, under its version, not the old one's.
    const stricter = policyWith({ vulnerabilities: { maxSeverity: { fixable: 'MEDIUM', unfixable: 'MEDIUM' } } });
    assert.notEqual(stricter.version, policy.version);
    const repolicied = regate(previous, scanned(critical), { ...context, policy: stricter });
    assert.deepEqual([repolicied.outcome.verdict, repolicied.outcome.recorded], ['unchanged', true]);
    assert.ok(repolicied.update?.kind === 'decision');
    assert.equal(repolicied.update.record.decision.policyVersion, stricter.version);
    // The same policy again: nothing to record.
    assert.equal(regate(previous, scanned(critical), context).outcome.recorded, false);
  });

  it('records an allow when the advisory that denied is withdrawn', () => {
    const { update, outcome } = regate(recorded([finding('CVE-2026-1', 'CRITICAL', true)]), scanned(), context);
    assert.equal(outcome.verdict, 'allowed');
    assert.equal(update?.kind, 'decision');
    assert.equal(update?.record.decision.allowed, true);
  });

  it('compares findings in order first, then as many times as each occurs in any order', () => {
    const low = finding('CVE-2026-2', 'LOW', false);
    const medium = finding('CVE-2026-3', 'MEDIUM', true);
    const previous = recorded([low, low, medium]);
    assert.equal(regate(previous, scanned(low, low, medium), context).outcome.findingsChanged, false, 'same order');
    assert.equal(regate(previous, scanned(medium, low, low), context).outcome.findingsChanged, false, 'another order');
    assert.equal(regate(previous, scanned(low, medium, medium), context).outcome.findingsChanged, true, 'one repeated instead of another');
    const refixed = { ...medium, fixedVersion: '9.9' };
    assert.equal(regate(previous, scanned(low, low, refixed), context).outcome.findingsChanged, true, 'another fix, same order');
  });

  it('only refreshes the scan time when nothing changed (order of findings aside)', () => {
    const found = [finding('CVE-2026-2', 'LOW', false), finding('CVE-2026-3', 'MEDIUM', true)];
    const previous = recorded(found);
    const { update, outcome } = regate(previous, scanned(...[...found].reverse()), context);
    assert.equal(outcome.verdict, 'unchanged');
    assert.equal(outcome.recorded, false);
    assert.equal(update?.kind, 'refresh');
    assert.deepEqual(update?.record.decision, previous.decision);
    assert.equal(update?.record.facts.scannedAt, LATER.toISOString());
    assert.equal(update?.record.recordedAt, previous.recordedAt);
    assert.equal(outcome.notify, undefined);
    assert.equal(update?.record.lastRescan?.notified, true, 'nothing to tell');
  });

  it('tells unchanged findings by the stored digest without reading them, and keeps them unread in the refresh', () => {
    const found = [finding('CVE-2026-2', 'LOW', false), finding('CVE-2026-3', 'MEDIUM', true)];
    const stored = recorded(found);
    const digest = findingFactsDigest(findingFacts(scanned(...found).findings));
    // As DecisionStore.update hands a record over: its findings read only when asked for.
    let reads = 0;
    const lazy = (): DecisionRecord => {
      const facts = { ...stored.facts } as DecisionRecord['facts'];
      Object.defineProperty(facts, 'findings', { enumerable: true, get: () => (reads++, stored.facts.findings) });
      return { ...stored, facts };
    };
    const previous = lazy();
    const { update, outcome } = regate(previous, scanned(...found), context, { digest });
    assert.equal(reads, 0, 'the findings were not read');
    assert.equal(outcome.findingsChanged, false);
    assert.equal(update?.kind, 'refresh');
    assert.equal(
      Object.getOwnPropertyDescriptor(update!.record.facts, 'findings')?.get,
      Object.getOwnPropertyDescriptor(previous.facts, 'findings')?.get,
      'kept unread',
    );
    assert.equal(reads, 0);
    assert.equal(update?.record.facts.scannedAt, LATER.toISOString());
    // Another order has another digest: compared finding by finding, as without one.
    const reordered = regate(lazy(), scanned(...[...found].reverse()), context, { digest });
    assert.equal(reads, 1);
    assert.equal(reordered.outcome.findingsChanged, false);
    const changed = regate(lazy(), scanned(found[0]!), context, { digest });
    assert.equal(changed.outcome.findingsChanged, true);
    assert.equal(changed.update?.kind, 'decision');
    assert.equal(changed.update?.record.facts.findings.length, 1);
  });

  it('takes findings the rescan matched as they were gated (asGated) as unchanged, digesting and reading nothing, and still judges the rest', () => {
    const found = [finding('CVE-2026-2', 'LOW', false), finding('CVE-2026-3', 'MEDIUM', true)];
    const stored = recorded(found);
    let reads = 0;
    const facts = { ...stored.facts } as DecisionRecord['facts'];
    Object.defineProperty(facts, 'findings', { enumerable: true, get: () => (reads++, stored.facts.findings) });
    // A digest that does not match: without asGated, the findings would be compared one by one.
    const { update, outcome } = regate({ ...stored, facts }, { ...scanned(...found), asGated: true }, context, { digest: 'another' });
    assert.equal(reads, 0, 'the findings were not read');
    assert.equal(outcome.findingsChanged, false);
    assert.equal(update?.kind, 'refresh');
    // The policy is still evaluated: stale data denies the same findings.
    const stale = { ...scanned(...found), asGated: true };
    stale.vulnerabilityData = {
      ...stale.vulnerabilityData,
      problems: [{ kind: 'stale', ecosystem: 'Debian', packages: 2, ageSeconds: 999_999, maxAgeSeconds: 86_400, message: 'stale' }],
    };
    const denied = regate(recorded(found), stale, context, { digest: 'another' });
    assert.equal(denied.outcome.findingsChanged, false);
    assert.equal(denied.outcome.verdict, 'denied');
    assert.equal(denied.update?.kind, 'decision');
  });

  it('tells changed findings by the stored compare digest without reading them, as sameFindings would', () => {
    const found = [finding('CVE-2026-2', 'LOW', false), finding('CVE-2026-3', 'MEDIUM', true)];
    const stored = recorded(found);
    const facts = findingFacts(scanned(...found).findings);
    const digests = { digest: 'another order or other aliases', compareDigest: findingsCompareDigest(facts) };
    let reads = 0;
    const lazy = (): DecisionRecord => {
      const f = { ...stored.facts } as DecisionRecord['facts'];
      Object.defineProperty(f, 'findings', { enumerable: true, get: () => (reads++, stored.facts.findings) });
      return { ...stored, facts: f };
    };
    const reordered = regate(lazy(), scanned(...[...found].reverse()), context, digests);
    assert.equal(reordered.outcome.findingsChanged, false);
    assert.equal(reordered.update?.kind, 'refresh');
    const changed = regate(lazy(), scanned(found[0]!), context, digests);
    assert.equal(changed.outcome.findingsChanged, true);
    assert.equal(changed.update?.kind, 'decision');
    const fixed = regate(lazy(), scanned(found[0]!, { ...found[1]!, fixedVersion: '9.9' }), context, digests);
    assert.equal(fixed.outcome.findingsChanged, true, 'a fix is a change');
    assert.equal(reads, 0, 'the stored findings were never read');
  });

  it('compare digest: the fields sameFindings compares, order and the other fields aside', () => {
    const [a, b] = findingFacts(scanned(finding('CVE-2026-3', 'MEDIUM', true), finding('CVE-2026-4', 'LOW', false)).findings) as [FindingFact, FindingFact];
    const digestOf = (...f: FindingFact[]) => findingsCompareDigest(f);
    assert.equal(digestOf(a, b), digestOf(b, a), 'order aside');
    for (const same of [
      { ...a, aliases: ['CVE-X'] },
      { ...a, ids: ['GHSA-x'] },
      { ...a, cvssScore: 5 },
      { ...a, purl: '' },
      { ...a, negligible: true },
    ])
      assert.equal(digestOf(same, b), digestOf(a, b), 'fields sameFindings does not compare');
    const variants = [
      { ...a, id: 'CVE-2026-5' },
      { ...a, package: 'other' },
      { ...a, version: '2' },
      { ...a, ecosystem: 'npm' },
      { ...a, severity: 'HIGH' as const },
      { ...a, fixable: false },
      { ...a, fixedVersion: '3' },
    ];
    const all = new Set([digestOf(a, b), ...variants.map((v) => digestOf(v, b))]);
    assert.equal(all.size, variants.length + 1, 'each compared field changes it');
    assert.notEqual(digestOf(a, a, b), digestOf(a, b, b), 'how many of each counts');
    assert.equal(digestOf({ ...a, fixedVersion: '' }), digestOf({ ...a, fixedVersion: undefined }), 'no fixed version and an empty one compare equal');
  });

  it('digests every field of the finding facts: equal digests, the same facts', () => {
    const base = findingFacts(scanned(finding('CVE-2026-3', 'MEDIUM', true)).findings)[0]!;
    const digestOf = (f: typeof base) => findingFactsDigest([f]);
    const variants = [
      { ...base, id: 'CVE-2026-4' },
      { ...base, ids: [...base.ids, 'GHSA-x'] },
      { ...base, aliases: ['CVE-X'] },
      { ...base, package: 'other' },
      { ...base, version: '2' },
      { ...base, ecosystem: 'npm' },
      { ...base, purl: '' },
      { ...base, severity: 'HIGH' as const },
      { ...base, fixable: false },
      { ...base, fixedVersion: '' },
      { ...base, vendorSeverity: { source: 'debian', rating: 'low' } },
      { ...base, cvssScore: 5 },
      { ...base, negligible: true },
      { ...base, fixedIn: { name: 'src', version: '1' } },
    ];
    const digests = new Set([digestOf(base), ...variants.map(digestOf)]);
    assert.equal(digests.size, variants.length + 1, 'each field changes the digest (absent and empty apart)');
    assert.equal(digestOf({ ...base }), digestOf(base));
    assert.notEqual(findingFactsDigest([base, base]), findingFactsDigest([base]));
  });

  it('records changed findings under the same verdict, without a verdict change', () => {
    const { update, outcome } = regate(recorded([finding('CVE-2026-2', 'LOW', false)]), scanned(finding('CVE-2026-2', 'LOW', true)), context);
    assert.equal(outcome.verdict, 'unchanged');
    assert.equal(outcome.findingsChanged, true);
    assert.equal(update?.kind, 'decision');
  });

  it('keeps a break-glass override: the image stays admitted, the new denial is recorded under it', () => {
    const previous = recorded([finding('CVE-2026-1', 'CRITICAL', true)], true);
    const { update, outcome } = regate(previous, scanned(finding('CVE-2026-1', 'CRITICAL', true), finding('CVE-2026-9', 'CRITICAL', false)), context);
    assert.equal(outcome.verdict, 'unchanged', 'admitted before and after');
    assert.equal(outcome.overridden, true);
    assert.equal(outcome.recorded, true);
    assert.deepEqual(update?.record.override, previous.override);
    assert.equal(outcome.notify, 'denied', 'a new enforced violation under the override is told');
    assert.equal(update?.record.lastRescan?.notified, false);
  });

  it('tells nothing about an overridden image whose enforced violations are the ones it had', () => {
    const previous = recorded([finding('CVE-2026-1', 'CRITICAL', true), finding('CVE-2026-9', 'CRITICAL', false)], true);
    // Fewer violations, or the same ones in another order: nothing new under the override.
    for (const found of [[finding('CVE-2026-9', 'CRITICAL', false), finding('CVE-2026-1', 'CRITICAL', true)], [finding('CVE-2026-1', 'CRITICAL', true)]]) {
      const { update, outcome } = regate(previous, scanned(...found), context);
      assert.equal(outcome.overridden, true);
      assert.equal(outcome.notify, undefined);
      assert.equal(update?.record.lastRescan?.notified, true);
    }
  });

  it('carries a change subscribers never heard of to the next rescan, which notifies it', () => {
    const critical = scanned(finding('CVE-2026-1', 'CRITICAL', true));
    const first = regate(recorded(), critical, context);
    assert.ok(first.update);
    // The notification failed: the next day's rescan finds nothing new, but the change is still to be told.
    const nextDay = { ...context, workflowId: 'dchain-rescan-2026-06-03T12:00:00Z' };
    const next = regate(first.update.record, critical, nextDay);
    assert.equal(next.update?.kind, 'refresh', 'no new decision');
    assert.equal(next.outcome.recorded, false);
    assert.equal(next.outcome.verdict, 'denied');
    assert.equal(next.outcome.previousAllowed, true, 'compared with what subscribers last heard');
    assert.equal(next.outcome.notify, 'denied');
    assert.deepEqual(next.update?.record.lastRescan && [next.update.record.lastRescan.workflowId, next.update.record.lastRescan.notified], [
      nextDay.workflowId,
      false,
    ]);
    // Once told (the mark set), the day after has nothing to tell.
    const told = { ...next.update!.record, lastRescan: { ...next.update!.record.lastRescan!, notified: true } };
    const dayAfter = regate(told, critical, { ...context, workflowId: 'dchain-rescan-2026-06-04T12:00:00Z' });
    assert.deepEqual([dayAfter.outcome.verdict, dayAfter.outcome.notify, dayAfter.update?.record.lastRescan?.notified], ['unchanged', undefined, true]);
  });

  it('drops an untold change that reverted before it could be told (subscribers heard of neither)', () => {
    const first = regate(recorded(), scanned(finding('CVE-2026-1', 'CRITICAL', true)), context);
    assert.ok(first.update);
    const withdrawn = regate(first.update.record, scanned(), { ...context, workflowId: 'dchain-rescan-2026-06-03T12:00:00Z' });
    assert.equal(withdrawn.update?.kind, 'decision', 'the allow is recorded');
    assert.equal(withdrawn.outcome.verdict, 'unchanged');
    assert.equal(withdrawn.outcome.notify, undefined);
    assert.equal(withdrawn.update?.record.lastRescan?.notified, true);
  });

  it('carries an untold denial under a break-glass override too', () => {
    const previous = recorded([finding('CVE-2026-1', 'CRITICAL', true)], true);
    const found = scanned(finding('CVE-2026-1', 'CRITICAL', true), finding('CVE-2026-9', 'CRITICAL', false));
    const first = regate(previous, found, context);
    assert.ok(first.update);
    const next = regate(first.update.record, found, { ...context, workflowId: 'dchain-rescan-2026-06-03T12:00:00Z' });
    assert.deepEqual([next.outcome.verdict, next.outcome.overridden, next.outcome.notify], ['unchanged', true, 'denied']);
  });

  it('reports what it did, and writes nothing, when the same rescan sees its own record again (a retry)', () => {
    const first = regate(recorded(), scanned(finding('CVE-2026-1', 'CRITICAL', true)), context);
    assert.ok(first.update);
    const retry = regate(first.update.record, scanned(finding('CVE-2026-1', 'CRITICAL', true)), context);
    assert.equal(retry.update, undefined);
    assert.equal(retry.outcome.verdict, 'denied');
    assert.equal(retry.outcome.recorded, true);
    assert.equal(retry.outcome.notify, 'denied', 'still to be told');
    // The next day's rescan (another workflow) compares with that record: nothing changed.
    const told = { ...first.update.record, lastRescan: { ...first.update.record.lastRescan!, notified: true } };
    const nextDay = regate(told, scanned(finding('CVE-2026-1', 'CRITICAL', true)), { ...context, workflowId: 'dchain-rescan-2026-06-03T12:00:00Z' });
    assert.equal(nextDay.outcome.verdict, 'unchanged');
    assert.equal(nextDay.update?.kind, 'refresh');
  });
  it('writes records in their stored form: the store writes them unvalidated, so parsing one back must change nothing', () => {
    const rich = scanned(finding('CVE-2026-1', 'CRITICAL', true), finding('CVE-2026-2', 'LOW', false));
    rich.findings[0] = { ...rich.findings[0]!, vendorSeverity: { source: 'debian', rating: 'high', severity: 'HIGH' }, cvssScore: 9.8, negligible: false };
    rich.findings[1] = { ...rich.findings[1]!, fixedIn: { name: 'src', version: '1.2', kind: 'source' }, negligible: true, summary: 'not a fact' };
    rich.vulnerabilityData.problems = [{ kind: 'stale', ecosystem: 'Debian', packages: 1, ageSeconds: 9, maxAgeSeconds: 5, message: 'stale' }];
    const first = regate(recorded([], true), rich, context);
    const refresh = first.update && regate(first.update.record, rich, { ...context, workflowId: 'dchain-rescan-2026-06-03T12:00:00Z' });
    assert.equal(first.update?.kind, 'decision');
    assert.equal(refresh?.update?.kind, 'refresh');
    for (const update of [first.update!, refresh!.update!]) {
      const stored = JSON.parse(JSON.stringify(update.record)) as unknown;
      assert.deepEqual(decisionRecordSchema.parse(stored), stored);
    }
  });
  it('maps findings to facts field by field: optional ones only when set, in the order stored records have them', () => {
    const [bare, full] = findingFacts([
      {
        id: 'GHSA-1',
        ids: ['GHSA-1'],
        aliases: [],
        package: { name: 'a', version: '1', ecosystem: 'npm', purl: 'pkg:npm/a@1', layer: 'sha256:00' },
        severity: 'LOW',
        fixable: false,
      },
      {
        id: 'DSA-1',
        ids: ['DSA-1', 'DEBIAN-CVE-1'],
        aliases: ['CVE-1'],
        package: { name: 'libssl3', version: '3.0-1', ecosystem: 'Debian', purl: 'pkg:deb/debian/libssl3@3.0-1', layer: 'sha256:00' },
        severity: 'HIGH',
        vendorSeverity: { source: 'Debian', rating: 'high', severity: 'HIGH' },
        cvssScore: 8.1,
        negligible: false,
        fixable: true,
        fixedVersion: '3.0-2',
        fixedIn: { name: 'openssl', version: '3.0-2', kind: 'source' },
        summary: 'not a fact',
      },
    ]);
    assert.equal(
      JSON.stringify(bare),
      '{"id":"GHSA-1","aliases":[],"package":"a","version":"1","ecosystem":"npm","severity":"LOW","fixable":false,"ids":["GHSA-1"],"negligible":false,"purl":"pkg:npm/a@1"}',
    );
    assert.equal(
      JSON.stringify(full),
      '{"id":"DSA-1","aliases":["CVE-1"],"package":"libssl3","version":"3.0-1","ecosystem":"Debian","severity":"HIGH","fixable":true,"fixedVersion":"3.0-2","ids":["DSA-1","DEBIAN-CVE-1"],"vendorSeverity":{"source":"Debian","rating":"high"},"cvssScore":8.1,"negligible":false,"fixedIn":{"name":"openssl","version":"3.0-2"},"purl":"pkg:deb/debian/libssl3@3.0-1"}',
    );
  });
});
