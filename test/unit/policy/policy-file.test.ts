import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { ChainError } from '../../../src/errors/chain-error';
import { defaultPolicy } from '../../../src/policy/default-policy';
import { policyJsonSchema } from '../../../src/policy/json-schema';
import { lintPolicy } from '../../../src/policy/lint';
import { loadPolicyFile, parsePolicy } from '../../../src/policy/policy-file';
import { NOW } from './fixtures';

const root = resolve(__dirname, '../../..');
const base = { apiVersion: 'policy.delivery-chain.dev/v1', kind: 'ImagePolicy', metadata: { name: 'p' } };

function invalid(raw: unknown): string {
  try {
    parsePolicy(raw, 'test policy');
  } catch (err) {
    assert.ok(ChainError.is(err, 'CONFIG_INVALID'), String(err));
    return err.message;
  }
  assert.fail('policy was accepted');
}

void describe('policy files', () => {
  void it('loads the example policy with its key file and lints it', () => {
    const loaded = loadPolicyFile(join(root, 'policy/example.yaml'));
    assert.deepEqual(
      loaded.policy.rules.map((r) => r.name),
      ['baseline', 'production', 'legacy-observe'],
    );
    assert.match(loaded.keys.get('release') ?? '', /BEGIN PUBLIC KEY/);
    assert.match(loaded.version, /^example:2026-11-22:sha256-[0-9a-f]{12}$/);
    assert.deepEqual(lintPolicy(loaded, NOW), []);
    assert.deepEqual(lintPolicy(loaded, new Date('2027-02-01T00:00:00Z')), [
      'rule baseline: allowlist entry CVE-2023-45853 expired on 2027-01-31 and no longer applies',
    ]);
  });

  void it('names every problem with its path', () => {
    const message = invalid({ ...base, mode: 'block', rules: [{ name: 'r', hygiene: { forbidSetuid: 'yes', maxSize: '10 parsecs' }, extra: 1 }] });
    assert.match(message, /mode: Invalid option/);
    assert.match(message, /rules\.0\.hygiene\.forbidSetuid/);
    assert.match(message, /rules\.0\.hygiene\.maxSize/);
    assert.match(message, /rules\.0: unknown key "extra"/);
  });

  void it('refuses signatures required from keys it does not trust, and duplicate names', () => {
    assert.match(invalid({ ...base, rules: [{ name: 'r', provenance: { requireSignatures: { keys: ['ghost'] } } }] }), /no trusted key with id "ghost"/);
    assert.match(invalid({ ...base, rules: [{ name: 'r' }, { name: 'r' }] }), /rule.*names must be unique/);
    assert.match(invalid({ ...base, rules: [] }), /rules/);
    assert.match(
      invalid({ ...base, rules: [{ name: 'r', vulnerabilities: { allowlist: [{ id: 'CVE-1', reason: 'ok ok', expires: 'next year' }] } }] }),
      /expires/,
    );
  });

  void it('reports unreadable files and bad YAML as typed errors', () => {
    const dir = mkdtempSync(join(tmpdir(), 'policy-file-'));
    assert.throws(
      () => loadPolicyFile(join(dir, 'missing.yaml')),
      (e) => ChainError.is(e, 'CONFIG_UNREADABLE'),
    );
    writeFileSync(join(dir, 'bad.yaml'), 'rules: [unclosed');
    assert.throws(
      () => loadPolicyFile(join(dir, 'bad.yaml')),
      (e) => ChainError.is(e, 'CONFIG_INVALID') && /not valid YAML/.test(e.message),
    );
    writeFileSync(join(dir, 'keyless.json'), JSON.stringify({ ...base, trustedKeys: [{ id: 'k', publicKeyFile: 'nope.pub' }], rules: [{ name: 'r' }] }));
    assert.throws(
      () => loadPolicyFile(join(dir, 'keyless.json')),
      (e) => ChainError.is(e, 'CONFIG_UNREADABLE') && /nope\.pub/.test(e.message),
    );
  });

  void it('versions by content, independent of key order', () => {
    const a = parsePolicy({ ...base, mode: 'enforce', rules: [{ name: 'r', hygiene: { forbidShells: true, forbidSetuid: true } }] });
    const b = parsePolicy({
      rules: [{ hygiene: { forbidSetuid: true, forbidShells: true }, name: 'r' }],
      mode: 'enforce',
      metadata: { name: 'p' },
      kind: 'ImagePolicy',
      apiVersion: 'policy.delivery-chain.dev/v1',
    });
    const c = parsePolicy({ ...base, rules: [{ name: 'r', hygiene: { forbidShells: true } }] });
    assert.equal(a.version, b.version);
    assert.notEqual(a.version, c.version);
  });

  void it('has an enforcing built-in default, dry-run one setting away', () => {
    const loaded = defaultPolicy();
    assert.equal(loaded.policy.mode, 'enforce');
    assert.deepEqual(lintPolicy(loaded, NOW), []);
    const dry = defaultPolicy('dry-run');
    assert.equal(dry.policy.mode, 'dry-run');
    assert.deepEqual(lintPolicy(dry, NOW), ['mode is dry-run: decisions are recorded but nothing is blocked']);
  });

  void it('ships a JSON Schema that matches the zod schema', () => {
    const committed = JSON.parse(readFileSync(join(root, 'policy/policy.schema.json'), 'utf8')) as unknown;
    assert.deepEqual(
      committed,
      policyJsonSchema(),
      'policy/policy.schema.json is stale: regenerate it with `dchain policy schema > policy/policy.schema.json`',
    );
  });
});
