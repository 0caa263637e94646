import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ChainError } from '../../../src/errors/chain-error';
import { type DecisionRecord, evaluatePolicy, lintPolicy, loadPolicyFile, regate, summarizeDecision } from '../../../src/policy';
import { checkTrustedSources, trusts } from '../../../src/policy/rules/trusted-sources';
import { type Finding } from '../../../src/scan';
import { type VexStatement } from '../../../src/scan/vex';
import { DIGEST, facts, finding, GOOD_DATA, NOW, policyWith } from './fixtures';

const PURL = 'pkg:deb/debian/openssl@3.0.1?arch=amd64';
const critical = finding('DSA-5999-1', 'CRITICAL', true, { aliases: ['CVE-2026-0100'], purl: PURL });

/** An OpenVEX document stating the image is not affected by CVE-2026-0100 through openssl. */
const openVex = (status = 'not_affected', extra: Record<string, unknown> = { justification: 'vulnerable_code_not_present' }) => ({
  '@context': 'https://openvex.dev/ns/v0.2.0',
  '@id': 'https://example.com/vex/1',
  author: 'Platform Security',
  timestamp: '2026-05-01T00:00:00Z',
  version: 1,
  statements: [
    { vulnerability: { name: 'CVE-2026-0100' }, products: [{ '@id': DIGEST, subcomponents: [{ '@id': 'pkg:deb/debian/openssl' }] }], status, ...extra },
  ],
});

function policyFile(documents: unknown[], vexDocs: Record<string, unknown>): string {
  const dir = mkdtempSync(join(tmpdir(), 'dchain-vex-policy-'));
  for (const [name, doc] of Object.entries(vexDocs)) writeFileSync(join(dir, name), JSON.stringify(doc));
  const file = join(dir, 'policy.json');
  writeFileSync(
    file,
    JSON.stringify({
      apiVersion: 'policy.delivery-chain.dev/v1',
      kind: 'ImagePolicy',
      metadata: { name: 'p' },
      vex: { documents },
      rules: [{ name: 'r', vulnerabilities: { maxSeverity: { fixable: 'MEDIUM', unfixable: 'HIGH' } } }],
    }),
  );
  return file;
}

void describe('VEX documents named in the policy', () => {
  void it('a not_affected statement suppresses the finding, which stays listed with its statement', () => {
    const loaded = loadPolicyFile(policyFile(['vex.json'], { 'vex.json': openVex() }));
    const decision = evaluatePolicy(facts({ findings: [critical] }), loaded, NOW);
    assert.equal(decision.allowed, true);
    assert.deepEqual(decision.violations, []);
    assert.equal(decision.suppressed?.length, 1);
    assert.equal(decision.suppressed?.[0]?.id, 'DSA-5999-1');
    assert.match(
      decision.suppressed?.[0]?.reason ?? '',
      /^not_affected \(vulnerable_code_not_present\) per OpenVEX https:\/\/example.com\/vex\/1 by Platform Security$/,
    );
    assert.match(summarizeDecision(decision), /~ CRITICAL DSA-5999-1 in openssl 3\.0\.1 suppressed: not_affected/);
  });

  void it('an expired document no longer suppresses, and the decision says so', () => {
    const loaded = loadPolicyFile(policyFile([{ path: 'vex.json', expires: '2026-05-31' }], { 'vex.json': openVex() }));
    const decision = evaluatePolicy(facts({ findings: [critical] }), loaded, NOW);
    assert.equal(decision.allowed, false);
    assert.deepEqual(
      decision.violations.map((v) => v.rule),
      ['vulnerabilities.fixable'],
    );
    assert.ok(
      decision.warnings.some((w) => /DSA-5999-1 in openssl 3\.0\.1: VEX statement .* until 2026-05-31 has expired and no longer applies/.test(w)),
      decision.warnings.join('\n'),
    );
    const later = loadPolicyFile(policyFile([{ path: 'vex.json', expires: '2026-06-30' }], { 'vex.json': openVex() }));
    assert.equal(evaluatePolicy(facts({ findings: [critical] }), later, NOW).allowed, true);
  });

  void it('affected and under_investigation statements leave the verdict alone', () => {
    const affected = loadPolicyFile(policyFile(['vex.json'], { 'vex.json': openVex('affected', { action_statement: 'upgrade' }) }));
    assert.equal(evaluatePolicy(facts({ findings: [critical] }), affected, NOW).allowed, false);
    const investigating = loadPolicyFile(policyFile(['vex.json'], { 'vex.json': openVex('under_investigation', {}) }));
    assert.equal(evaluatePolicy(facts({ findings: [critical] }), investigating, NOW).allowed, false);
  });

  void it('an invalid VEX document stops the policy from loading, naming the problem', () => {
    assert.throws(
      () => loadPolicyFile(policyFile(['vex.json'], { 'vex.json': openVex('not_affected', {}) })),
      (err: unknown) =>
        err instanceof ChainError &&
        err.code === 'CONFIG_INVALID' &&
        /VEX document .*vex\.json is invalid:\n {2}- statements\.0\.justification: a not_affected statement needs a justification or an impact_statement/.test(
          err.message,
        ),
    );
    assert.throws(
      () => loadPolicyFile(policyFile(['missing.json'], {})),
      (err: unknown) => err instanceof ChainError && err.code === 'CONFIG_UNREADABLE',
    );
  });

  void it('the documents are part of the policy version', () => {
    const a = loadPolicyFile(policyFile(['vex.json'], { 'vex.json': openVex() }));
    const b = loadPolicyFile(policyFile(['vex.json'], { 'vex.json': { ...openVex(), '@id': 'https://example.com/vex/2' } }));
    assert.notEqual(a.version, b.version);
  });
});

void describe('VEX attested on the image (facts) and the allowlist as VEX', () => {
  const attested: VexStatement = {
    vulnerability: 'CVE-2026-0100',
    aliases: [],
    status: 'fixed',
    products: [{ ids: [DIGEST], subcomponents: [] }],
    timestamp: '2026-05-01T00:00:00Z',
    source: { format: 'openvex', document: 'https://example.com/vex/3', author: 'vendor', keyId: 'release' },
  };
  const policy = policyWith({ vulnerabilities: { maxSeverity: { fixable: 'MEDIUM', unfixable: 'HIGH' } } });

  void it('a fixed statement attested for this digest suppresses; for another digest it does not', () => {
    assert.equal(evaluatePolicy(facts({ findings: [critical], vex: [attested] }), policy, NOW).allowed, true);
    const other = { ...attested, products: [{ ids: [`sha256:${'ef'.repeat(32)}`], subcomponents: [] }] };
    assert.equal(evaluatePolicy(facts({ findings: [critical], vex: [other] }), policy, NOW).allowed, false);
  });

  void it('an allowlist entry is listed as a suppression with its reason, and below-ceiling findings it names are too', () => {
    const allowlisted = policyWith({
      vulnerabilities: { maxSeverity: { fixable: 'MEDIUM' }, allowlist: [{ id: 'CVE-2026-0100', reason: 'not reachable', expires: '2026-12-31' }] },
    });
    const decision = evaluatePolicy(facts({ findings: [critical] }), allowlisted, NOW);
    assert.equal(decision.allowed, true);
    assert.equal(decision.suppressed?.[0]?.statement.source.format, 'allowlist');
    assert.equal(decision.suppressed?.[0]?.reason, 'not_affected (not reachable) per allowlist rule r, until 2026-12-31');
  });

  void it('a rescan applies the statements the gate saw, and new ones the rescan read', () => {
    const f = facts({ findings: [critical] });
    const previous: DecisionRecord = { decision: evaluatePolicy(f, policy, NOW), facts: f, recordedAt: NOW.toISOString() };
    assert.equal(previous.decision.allowed, false);
    const later = new Date(NOW.getTime() + 86_400_000);
    const findings: Finding[] = [
      {
        id: critical.id,
        ids: [critical.id, ...critical.aliases],
        aliases: critical.aliases,
        package: { name: 'openssl', version: '3.0.1', ecosystem: 'Debian', purl: PURL, layer: 'sha256:00' },
        severity: 'CRITICAL',
        fixable: true,
        fixedVersion: '3.0.2',
      },
    ];
    const ctx = { policy, now: later, workflowId: 'rescan-1', osvVersion: 'osv-1' };
    const data = { ...GOOD_DATA, importedAt: later.toISOString(), newestModified: '' };
    const withVex = regate(previous, { digest: DIGEST, scannedAt: later.toISOString(), findings, vulnerabilityData: data, vex: [attested] }, ctx);
    assert.equal(withVex.outcome.verdict, 'allowed');
    assert.equal(withVex.update?.kind, 'decision');
    const record = withVex.update?.kind === 'decision' ? withVex.update.record : undefined;
    assert.ok(record?.lastRescan);
    record.lastRescan.notified = true; // subscribers were told
    // The next rescan could not read the registry (no `vex`): the recorded statements stay in force.
    const again = regate(record, { digest: DIGEST, scannedAt: later.toISOString(), findings, vulnerabilityData: data }, { ...ctx, workflowId: 'rescan-2' });
    assert.equal(again.outcome.verdict, 'unchanged');
    assert.equal(again.outcome.allowed, true);
    assert.equal(again.update?.kind, 'refresh');
  });
});

void describe('trustedSources', () => {
  void it('hosts, subdomain patterns and URL prefixes', () => {
    assert.equal(trusts('deb.debian.org', 'http://deb.debian.org/debian'), true);
    assert.equal(trusts('deb.debian.org', 'mirror+http://deb.debian.org/debian'), true);
    assert.equal(trusts('deb.debian.org', 'http://deb.debian.org.evil.example/debian'), false);
    assert.equal(trusts('*.example.com', 'https://npm.example.com/a.tgz'), true);
    assert.equal(trusts('*.example.com', 'https://example.com.evil/a.tgz'), false);
    assert.equal(trusts('https://registry.npmjs.org', 'https://registry.npmjs.org.evil.example/a.tgz'), false);
    assert.equal(trusts('https://registry.npmjs.org', 'https://registry.npmjs.org/a/-/a-1.tgz'), true);
    assert.equal(trusts('https://pkgs.example.com/team-a/', 'https://pkgs.example.com/team-b/x.tgz'), false);
    assert.equal(trusts('deb.debian.org', 'cdrom:[Debian]/'), false, 'no host: nothing vouches for it');
  });

  void it('checks only the ecosystems the rule lists, one violation per package and URL', () => {
    const sources = [
      { ecosystem: 'apt' as const, url: 'http://apt.evil.example/debian', location: '/etc/apt/sources.list' },
      { ecosystem: 'npm' as const, url: 'https://npm.evil.example/x/-/x-1.0.0.tgz', location: '/app/package-lock.json', package: 'x', version: '1.0.0' },
      {
        ecosystem: 'pypi' as const,
        url: 'git+https://github.com/a/b',
        location: '/usr/lib/python3/dist-packages/b-1.0.dist-info/direct_url.json',
        package: 'b',
      },
    ];
    const result = checkTrustedSources(sources, { npm: ['registry.npmjs.org'], apt: ['deb.debian.org'] });
    assert.deepEqual(
      result.violations.map((v) => [v.rule, v.evidence.url]),
      [
        ['trustedSources.apt', 'http://apt.evil.example/debian'],
        ['trustedSources.npm', 'https://npm.evil.example/x/-/x-1.0.0.tgz'],
      ],
    );
    const decision = evaluatePolicy(facts({ sources }), policyWith({ trustedSources: { pypi: ['pypi.org', 'files.pythonhosted.org'] } }), NOW);
    assert.deepEqual(
      decision.violations.map((v) => v.message),
      [
        'pypi package b comes from git+https://github.com/a/b (/usr/lib/python3/dist-packages/b-1.0.dist-info/direct_url.json), not a trusted source (pypi.org, files.pythonhosted.org)',
      ],
    );
  });

  void it('a rule of trustedSources alone is not linted as checking nothing', () => {
    assert.deepEqual(lintPolicy(policyWith({ trustedSources: { apt: ['deb.debian.org'] } }), NOW), []);
  });
});
