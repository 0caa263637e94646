import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { evaluatePolicy } from '../../../src/policy/evaluate';
import { type ImageFacts } from '../../../src/policy/image-facts';
import { DIGEST, facts, finding, GOOD_DATA, NOW, policyWith } from './fixtures';

interface Case {
  name: string;
  rule: Record<string, unknown>;
  facts: ImageFacts;
  allowed: boolean;
  /** The checks expected to be violated, in order. */
  violations: string[];
  evidence?: Record<string, unknown>;
  message?: RegExp;
  warning?: RegExp;
}

const vulns = (maxSeverity: Record<string, string>, extra: Record<string, unknown> = {}) => ({ vulnerabilities: { maxSeverity, ...extra } });

const cases: Case[] = [
  // maximum severity, fixable and unfixable separately
  {
    name: 'fixable HIGH above a MEDIUM ceiling denies',
    rule: vulns({ fixable: 'MEDIUM' }),
    facts: facts({ findings: [finding('CVE-2026-0001', 'HIGH', true)] }),
    allowed: false,
    violations: ['vulnerabilities.fixable'],
    evidence: { id: 'CVE-2026-0001', package: 'openssl', version: '3.0.1', fixedVersion: '3.0.2', severity: 'HIGH' },
    message: /HIGH CVE-2026-0001 in openssl 3\.0\.1 \(fixed in 3\.0\.2\)/,
  },
  {
    name: 'fixable MEDIUM at a MEDIUM ceiling passes',
    rule: vulns({ fixable: 'MEDIUM' }),
    facts: facts({ findings: [finding('CVE-2026-0002', 'MEDIUM', true)] }),
    allowed: true,
    violations: [],
  },
  {
    name: 'unfixable HIGH under an unfixable ceiling of HIGH passes',
    rule: vulns({ fixable: 'MEDIUM', unfixable: 'HIGH' }),
    facts: facts({ findings: [finding('CVE-2026-0003', 'HIGH', false)] }),
    allowed: true,
    violations: [],
  },
  {
    name: 'unfixable CRITICAL above an unfixable ceiling of HIGH denies',
    rule: vulns({ unfixable: 'HIGH' }),
    facts: facts({ findings: [finding('CVE-2026-0004', 'CRITICAL', false)] }),
    allowed: false,
    violations: ['vulnerabilities.unfixable'],
    message: /no fix available/,
  },
  {
    name: 'unfixable findings are not judged by the fixable ceiling',
    rule: vulns({ fixable: 'NONE' }),
    facts: facts({ findings: [finding('CVE-2026-0005', 'CRITICAL', false)] }),
    allowed: true,
    violations: [],
  },
  {
    name: 'NONE accepts not even a LOW finding',
    rule: vulns({ fixable: 'NONE' }),
    facts: facts({ findings: [finding('CVE-2026-0006', 'LOW', true)] }),
    allowed: false,
    violations: ['vulnerabilities.fixable'],
  },
  {
    name: 'UNKNOWN severity counts as configured',
    rule: vulns({ fixable: 'MEDIUM' }, { unknownSeverityAs: 'HIGH' }),
    facts: facts({ findings: [finding('CVE-2026-0007', 'UNKNOWN', true)] }),
    allowed: false,
    violations: ['vulnerabilities.fixable'],
    message: /UNKNOWN \(counted as HIGH\)/,
  },
  {
    name: 'UNKNOWN severity counts as MEDIUM by default',
    rule: vulns({ fixable: 'MEDIUM' }),
    facts: facts({ findings: [finding('CVE-2026-0008', 'UNKNOWN', true)] }),
    allowed: true,
    violations: [],
  },
  {
    name: 'violations are ordered most severe first',
    rule: vulns({ fixable: 'LOW' }),
    facts: facts({ findings: [finding('CVE-2026-0010', 'MEDIUM', true), finding('CVE-2026-0011', 'CRITICAL', true)] }),
    allowed: false,
    violations: ['vulnerabilities.fixable', 'vulnerabilities.fixable'],
    evidence: { id: 'CVE-2026-0011' },
  },
  // allowlist and expiry
  {
    name: 'an unexpired allowlist entry accepts the finding with a warning',
    rule: vulns({ fixable: 'MEDIUM' }, { allowlist: [{ id: 'CVE-2026-0020', reason: 'not reachable', expires: '2026-12-31' }] }),
    facts: facts({ findings: [finding('CVE-2026-0020', 'CRITICAL', true)] }),
    allowed: true,
    violations: [],
    warning: /CVE-2026-0020 in openssl 3\.0\.1 accepted by allowlist until 2026-12-31: not reachable/,
  },
  {
    name: 'an allowlist entry matches an alias',
    rule: vulns({ fixable: 'MEDIUM' }, { allowlist: [{ id: 'cve-2026-0021', reason: 'vendor says benign', expires: '2026-12-31' }] }),
    facts: facts({ findings: [finding('DSA-5999-1', 'HIGH', true, { aliases: ['CVE-2026-0021'] })] }),
    allowed: true,
    violations: [],
  },
  {
    name: 'an expired allowlist entry no longer applies and the decision says so',
    rule: vulns({ fixable: 'MEDIUM' }, { allowlist: [{ id: 'CVE-2026-0022', reason: 'waiting for upstream', expires: '2026-05-01' }] }),
    facts: facts({ findings: [finding('CVE-2026-0022', 'HIGH', true)] }),
    allowed: false,
    violations: ['vulnerabilities.fixable'],
    message: /allowlist entry CVE-2026-0022 expired on 2026-05-01/,
    evidence: { expiredAllowlistEntry: { id: 'CVE-2026-0022', expires: '2026-05-01', reason: 'waiting for upstream' } },
  },
  {
    name: 'an entry expiring on the evaluation day has expired at midnight',
    rule: vulns({ fixable: 'MEDIUM' }, { allowlist: [{ id: 'CVE-2026-0023', reason: 'r1 r2', expires: '2026-06-01' }] }),
    facts: facts({ findings: [finding('CVE-2026-0023', 'HIGH', true)] }),
    allowed: false,
    violations: ['vulnerabilities.fixable'],
  },
  {
    name: 'an entry expiring within a week warns how long is left',
    rule: vulns({ fixable: 'MEDIUM' }, { allowlist: [{ id: 'CVE-2026-0024', reason: 'patch due', expires: '2026-06-02T12:00:00Z' }] }),
    facts: facts({ findings: [finding('CVE-2026-0024', 'HIGH', true)] }),
    allowed: true,
    violations: [],
    warning: /expires in 24h/,
  },
  {
    name: 'an entry limited to other packages does not apply',
    rule: vulns({ fixable: 'MEDIUM' }, { allowlist: [{ id: 'CVE-2026-0025', reason: 'only in curl', expires: '2026-12-31', packages: ['curl'] }] }),
    facts: facts({ findings: [finding('CVE-2026-0025', 'HIGH', true)] }),
    allowed: false,
    violations: ['vulnerabilities.fixable'],
  },
  // hygiene
  {
    name: 'setuid files deny with their paths',
    rule: { hygiene: { forbidSetuid: true } },
    facts: facts({}, { setuidFiles: ['/bin/su'], setgidFiles: ['/usr/bin/wall'] }),
    allowed: false,
    violations: ['hygiene.setuid'],
    evidence: { paths: ['/bin/su', '/usr/bin/wall'] },
  },
  {
    name: 'shells deny',
    rule: { hygiene: { forbidShells: true } },
    facts: facts({}, { shells: ['/bin/sh'] }),
    allowed: false,
    violations: ['hygiene.shells'],
    evidence: { paths: ['/bin/sh'] },
  },
  {
    name: 'network tools deny',
    rule: { hygiene: { forbidNetworkTools: true } },
    facts: facts({}, { networkTools: ['/usr/bin/wget', '/bin/nc'] }),
    allowed: false,
    violations: ['hygiene.networkTools'],
    evidence: { paths: ['/bin/nc', '/usr/bin/wget'] },
  },
  {
    name: 'private keys deny',
    rule: { hygiene: { forbidPrivateKeys: true } },
    facts: facts({}, { privateKeys: ['/root/.ssh/id_rsa'] }),
    allowed: false,
    violations: ['hygiene.privateKeys'],
  },
  {
    name: 'no USER runs as root',
    rule: { hygiene: { requireNonRootUser: true } },
    facts: facts({}, { user: '' }),
    allowed: false,
    violations: ['hygiene.nonRootUser'],
    message: /no USER set/,
  },
  {
    name: 'USER 0:0 runs as root',
    rule: { hygiene: { requireNonRootUser: true } },
    facts: facts({}, { user: '0:0' }),
    allowed: false,
    violations: ['hygiene.nonRootUser'],
  },
  {
    name: 'USER root runs as root',
    rule: { hygiene: { requireNonRootUser: true } },
    facts: facts({}, { user: 'root' }),
    allowed: false,
    violations: ['hygiene.nonRootUser'],
  },
  { name: 'USER app:0 is not root', rule: { hygiene: { requireNonRootUser: true } }, facts: facts({}, { user: 'app:0' }), allowed: true, violations: [] },
  {
    name: 'size above maximum denies',
    rule: { hygiene: { maxSize: '5MiB' } },
    facts: facts({}, { sizeBytes: 5 * 1024 * 1024 + 1 }),
    allowed: false,
    violations: ['hygiene.maxSize'],
    evidence: { maxBytes: 5 * 1024 * 1024 },
  },
  { name: 'size at maximum passes', rule: { hygiene: { maxSize: 5_000_000 } }, facts: facts({}, { sizeBytes: 5_000_000 }), allowed: true, violations: [] },
  {
    name: 'efficiency below minimum denies',
    rule: { hygiene: { minEfficiency: 0.9 } },
    facts: facts({}, { efficiency: 0.5 }),
    allowed: false,
    violations: ['hygiene.minEfficiency'],
  },
  // provenance
  {
    name: 'untrusted registry denies',
    rule: { provenance: { trustedRegistries: ['*.internal', '127.0.0.1:*'] } },
    facts: facts(),
    allowed: false,
    violations: ['provenance.trustedRegistry'],
    evidence: { registry: 'registry.example.com' },
  },
  {
    name: 'trusted registry pattern passes',
    rule: { provenance: { trustedRegistries: ['registry.example.*'] } },
    facts: facts(),
    allowed: true,
    violations: [],
  },
  {
    name: 'untrusted base image denies',
    rule: { provenance: { trustedBaseImages: ['docker.io/library/*'] } },
    facts: facts(),
    allowed: false,
    violations: ['provenance.trustedBaseImage'],
  },
  {
    name: 'trusted base image matches without its tag',
    rule: { provenance: { trustedBaseImages: ['registry.example.com/base/**'] } },
    facts: facts(),
    allowed: true,
    violations: [],
  },
  {
    name: 'unknown base image denies when base images are restricted',
    rule: { provenance: { trustedBaseImages: ['registry.example.com/base/**'] } },
    facts: facts({ baseImage: undefined }),
    allowed: false,
    violations: ['provenance.trustedBaseImage'],
    message: /unknown/,
  },
  {
    name: 'missing required signature denies',
    rule: { provenance: { requireSignatures: { keys: ['vendor'] } } },
    facts: facts(),
    allowed: false,
    violations: ['provenance.signatures'],
    evidence: { found: ['release'], missing: ['vendor'] },
  },
  {
    name: 'any-of signatures passes with one key',
    rule: { provenance: { requireSignatures: { keys: ['vendor', 'release'] } } },
    facts: facts(),
    allowed: true,
    violations: [],
  },
  {
    name: 'all-of signatures needs every key',
    rule: { provenance: { requireSignatures: { keys: ['vendor', 'release'], match: 'all' } } },
    facts: facts(),
    allowed: false,
    violations: ['provenance.signatures'],
    evidence: { missing: ['vendor'] },
  },
  {
    name: 'missing attestation denies',
    rule: { provenance: { requireAttestations: ['https://slsa.dev/provenance/v1', 'https://cyclonedx.org/bom'] } },
    facts: facts(),
    allowed: false,
    violations: ['provenance.attestations'],
    evidence: { missing: ['https://slsa.dev/provenance/v1'] },
  },
  {
    name: 'scan older than the maximum age denies',
    rule: { provenance: { maxScanAge: '30m' } },
    facts: facts(),
    allowed: false,
    violations: ['provenance.scanAge'],
    evidence: { ageSeconds: 3600 },
  },
  { name: 'scan within the maximum age passes', rule: { provenance: { maxScanAge: '24h' } }, facts: facts(), allowed: true, violations: [] },
  // mode
  {
    name: 'dry-run records violations but allows, with a warning',
    rule: { mode: 'dry-run', hygiene: { requireNonRootUser: true } },
    facts: facts({}, { user: 'root' }),
    allowed: true,
    violations: ['hygiene.nonRootUser'],
    warning: /dry-run: rule r would deny \(1 violation\)/,
  },
];

void describe('evaluatePolicy: one row per rule', () => {
  for (const c of cases) {
    void it(c.name, () => {
      const decision = evaluatePolicy(c.facts, policyWith(c.rule), NOW);
      assert.equal(decision.allowed, c.allowed, JSON.stringify(decision.violations));
      assert.deepEqual(
        decision.violations.map((v) => v.rule),
        c.violations,
      );
      for (const v of decision.violations) assert.equal(v.policyRule, 'r');
      if (c.evidence) assert.deepEqual({ ...decision.violations[0]?.evidence, ...c.evidence }, decision.violations[0]?.evidence);
      if (c.message) assert.match(decision.violations[0]?.message ?? '', c.message);
      if (c.warning)
        assert.ok(
          decision.warnings.some((w) => c.warning?.test(w)),
          `warnings: ${JSON.stringify(decision.warnings)}`,
        );
    });
  }
});

void describe('evaluatePolicy: selection, mode and determinism', () => {
  const root = facts({}, { user: 'root' });

  void it('applies only rules whose registry and repository patterns match', () => {
    const policy = policyWith(
      { match: { registries: ['other.example.com'] }, hygiene: { requireNonRootUser: true } },
      {
        rules: [
          { name: 'other', match: { registries: ['other.example.com'] }, hygiene: { requireNonRootUser: true } },
          { name: 'team', match: { repositories: ['team/*'] }, hygiene: { forbidShells: true } },
        ],
      },
    );
    const decision = evaluatePolicy(facts({}, { user: 'root', shells: ['/bin/sh'] }), policy, NOW);
    assert.deepEqual(decision.matchedRules, ['team']);
    assert.deepEqual(
      decision.violations.map((v) => `${v.policyRule}/${v.rule}`),
      ['team/hygiene.shells'],
    );
  });

  void it('namespace-scoped rules apply only at admission in a matching namespace', () => {
    const policy = policyWith({ match: { namespaces: ['prod-*'] }, hygiene: { requireNonRootUser: true } });
    assert.equal(evaluatePolicy(root, policy, NOW).allowed, true);
    assert.equal(evaluatePolicy(root, policy, NOW, { namespace: 'dev' }).allowed, true);
    assert.equal(evaluatePolicy(root, policy, NOW, { namespace: 'prod-eu' }).allowed, false);
  });

  void it('warns when no rule selects the image', () => {
    const decision = evaluatePolicy(root, policyWith({ match: { repositories: ['other/*'] }, hygiene: { requireNonRootUser: true } }), NOW);
    assert.equal(decision.allowed, true);
    assert.match(decision.warnings.join('\n'), /nothing was checked/);
  });

  void it('a dry-run policy with an enforce rule enforces that rule only', () => {
    const policy = policyWith(
      {},
      {
        mode: 'dry-run',
        rules: [
          { name: 'observe', hygiene: { forbidShells: true } },
          { name: 'strict', mode: 'enforce', hygiene: { requireNonRootUser: true } },
        ],
      },
    );
    const shellOnly = evaluatePolicy(facts({}, { shells: ['/bin/sh'] }), policy, NOW);
    assert.equal(shellOnly.allowed, true);
    assert.equal(shellOnly.mode, 'enforce');
    assert.equal(shellOnly.violations[0]?.enforced, false);
    assert.equal(evaluatePolicy(root, policy, NOW).allowed, false);
  });

  void it('records image, policy version, time and is deterministic', () => {
    const policy = policyWith({ vulnerabilities: { maxSeverity: { fixable: 'LOW' } } });
    const input = facts({ findings: [finding('CVE-2026-0031', 'HIGH', true), finding('CVE-2026-0030', 'HIGH', true)] });
    const reversed = { ...input, findings: [...input.findings].reverse() };
    const a = evaluatePolicy(input, policy, NOW);
    assert.deepEqual(a, evaluatePolicy(reversed, policy, NOW));
    assert.deepEqual(a.image, { registry: 'registry.example.com', repository: 'team/app', digest: DIGEST });
    assert.equal(a.evaluatedAt, NOW.toISOString());
    assert.match(a.policyVersion, /^test:unversioned:sha256-[0-9a-f]{12}$/);
    assert.deepEqual(
      a.violations.map((v) => v.evidence.id),
      ['CVE-2026-0030', 'CVE-2026-0031'],
    );
  });
});

void describe('vulnerability data', () => {
  const stale = {
    ...GOOD_DATA,
    problems: [
      {
        kind: 'stale' as const,
        ecosystem: 'Debian',
        packages: 3,
        ageSeconds: 200_000,
        maxAgeSeconds: 21_600,
        message: 'vulnerability data for Debian is 2d 7h old (updated …), older than the maximum 6h: 3 packages checked against stale data',
      },
    ],
  };
  const missing = {
    ...GOOD_DATA,
    problems: [
      {
        kind: 'missing' as const,
        ecosystem: 'npm',
        packages: 2,
        message: 'no vulnerability data for npm (no OSV records loaded for it): 2 packages not checked',
      },
    ],
  };
  const rule = { vulnerabilities: { maxSeverity: { fixable: 'HIGH' } } };

  void it('denies missing or stale data by default, naming the ecosystem and the age', () => {
    for (const data of [stale, missing]) {
      const decision = evaluatePolicy(facts({ vulnerabilityData: data }), policyWith(rule), NOW);
      assert.equal(decision.allowed, false);
      assert.equal(decision.violations[0]!.rule, 'vulnerabilities.data');
      assert.match(decision.violations[0]!.message, /^vulnerability data: /);
      assert.equal(decision.violations[0]!.evidence.ecosystem, data.problems[0]!.ecosystem);
    }
    assert.equal(evaluatePolicy(facts({ vulnerabilityData: stale }), policyWith(rule), NOW).violations[0]!.evidence.ageSeconds, 200_000);
  });

  void it('denies facts that do not say which data they come from, and only warns under vulnerabilityData: warn', () => {
    const unknown = facts({ vulnerabilityData: undefined });
    const denied = evaluatePolicy(unknown, policyWith(rule), NOW);
    assert.equal(denied.allowed, false);
    assert.match(denied.violations[0]!.message, /does not say which OSV data/);
    const warned = evaluatePolicy(
      facts({ vulnerabilityData: missing }),
      policyWith({ vulnerabilities: { maxSeverity: { fixable: 'HIGH' }, vulnerabilityData: 'warn' } }),
      NOW,
    );
    assert.equal(warned.allowed, true);
    assert.ok(warned.warnings.some((w) => /no vulnerability data for npm/.test(w)));
  });

  void it('leaves negligible findings out of the ceilings unless the policy includes them', () => {
    const f = facts({ findings: [finding('DEBIAN-CVE-2019-1010022', 'LOW', false, { negligible: true })] });
    assert.equal(evaluatePolicy(f, policyWith({ vulnerabilities: { maxSeverity: { unfixable: 'NONE' } } }), NOW).allowed, true);
    assert.equal(evaluatePolicy(f, policyWith({ vulnerabilities: { maxSeverity: { unfixable: 'NONE' }, includeNegligible: true } }), NOW).allowed, false);
  });
  void it('decides on facts shared across images as on fresh ones: each rule set its own violations, in the sorted order', () => {
    // One fact object per finding, shared by two images (as findingFacts shares them in a fleet rescan).
    const base = facts({
      findings: [finding('CVE-2026-0009', 'HIGH', true), finding('CVE-2026-0003', 'CRITICAL', false), finding('CVE-2026-0005', 'MEDIUM', true)],
    });
    const image = (n: string): ImageFacts => ({ ...base, digest: `sha256:${n.repeat(64)}` });
    const strict = policyWith({ vulnerabilities: { maxSeverity: { fixable: 'LOW', unfixable: 'HIGH' } } });
    const lenient = policyWith({ vulnerabilities: { maxSeverity: { fixable: 'HIGH', unfixable: 'MEDIUM' } } });
    for (const loaded of [strict, lenient, strict]) {
      const fresh = evaluatePolicy(structuredClone(image('a')), loaded, NOW);
      for (const n of ['a', 'b']) {
        const decision = evaluatePolicy(image(n), loaded, NOW);
        assert.deepEqual(decision.violations, fresh.violations);
      }
    }
    const ids = (loaded: typeof strict) =>
      evaluatePolicy(image('c'), loaded, NOW).violations.map((v) => `${String(v.evidence.id)} ${String(v.evidence.ceiling)}`);
    assert.deepEqual(ids(strict), ['CVE-2026-0003 HIGH', 'CVE-2026-0009 LOW', 'CVE-2026-0005 LOW']);
    assert.deepEqual(ids(lenient), ['CVE-2026-0003 MEDIUM']);
    // An allowlist entry that names a finding is weighed on each evaluation (its expiry depends on the time).
    const listed = policyWith({
      vulnerabilities: {
        maxSeverity: { fixable: 'LOW', unfixable: 'HIGH' },
        allowlist: [{ id: 'CVE-2026-0009', reason: 'not reachable', expires: '2026-06-10' }],
      },
    });
    assert.deepEqual(
      evaluatePolicy(image('d'), listed, NOW).violations.map((v) => v.evidence.id),
      ['CVE-2026-0003', 'CVE-2026-0005'],
    );
    const later = evaluatePolicy(image('d'), listed, new Date('2026-07-01T00:00:00Z'));
    assert.match(later.violations.find((v) => v.evidence.id === 'CVE-2026-0009')!.message, /allowlist entry CVE-2026-0009 expired on 2026-06-10/);
  });
  void it('tags a violation shared across images with each rule that reports it, once per rule and mode', () => {
    const base = facts({ findings: [finding('CVE-2026-0009', 'HIGH', true), finding('CVE-2026-0003', 'CRITICAL', false)] });
    const loaded = policyWith({ vulnerabilities: { maxSeverity: { fixable: 'LOW', unfixable: 'HIGH' } } });
    // A second rule on the very same rule set, in dry-run: the checks give both rules the same violation objects.
    const first = loaded.policy.rules[0]!;
    loaded.policy.rules.push({ ...first, name: 'r2', mode: 'dry-run' });
    const tags = (n: string) => {
      const d = evaluatePolicy({ ...base, digest: `sha256:${n.repeat(64)}` }, loaded, NOW);
      return { d, tags: d.violations.map((v) => `${v.policyRule} ${String(v.enforced)} ${String(v.evidence.id)}`) };
    };
    const expected = ['r true CVE-2026-0003', 'r true CVE-2026-0009', 'r2 false CVE-2026-0003', 'r2 false CVE-2026-0009'];
    const a = tags('a');
    assert.deepEqual(a.tags, expected);
    assert.deepEqual(tags('b').tags, expected);
    assert.equal(a.d.allowed, false);
    // Under one rule, the same finding's violation is tagged once for every image.
    const one = policyWith({ vulnerabilities: { maxSeverity: { fixable: 'LOW', unfixable: 'HIGH' } } });
    const [x, y] = ['e', 'f'].map((n) => evaluatePolicy({ ...base, digest: `sha256:${n.repeat(64)}` }, one, NOW).violations[0]);
    assert.equal(x, y);
  });
});
