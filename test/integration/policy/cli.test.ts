import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { DecisionStore, evaluatePolicy, factsFromScan, parsePolicy } from '../../../src/policy';
import { testDataDir, useRedis } from '../../support/services';
import { criticalFinding, scanSummary } from './scan-fixture';

const root = resolve(__dirname, '../../..');

/** Runs the real CLI in a child process and returns its output and exit code. */
async function dchain(...args: string[]): Promise<{ out: string; err: string; exitCode: number }> {
  return new Promise((resolvePromise) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', join(root, 'cli/dchain.ts'), ...args],
      { cwd: root, env: { ...process.env, LOG_LEVEL: 'silent' } },
      (error, stdout, stderr) => {
        resolvePromise({ out: stdout, err: stderr, exitCode: error ? Number(error.code ?? 1) : 0 });
      },
    );
  });
}

void describe('dchain policy', async () => {
  const dir = testDataDir('dchain-policy-cli-');
  const digest = `sha256:${'7'.repeat(64)}`;
  let redis: Redis;
  let configPath: string;

  before(async () => {
    const server = await useRedis(join(dir, 'redis'));
    redis = new Redis(server.url);
    configPath = join(dir, 'config.json');
    writeFileSync(configPath, JSON.stringify({ redis: { url: server.url }, policy: { file: join(root, 'policy/example.yaml') } }));
    // A registry the configuration does not name: stored facts are used without a live signature check.
    const facts = factsFromScan(scanSummary('127.0.0.1:5999', 'legacy/tool', digest, { user: 'root' }));
    await new DecisionStore(redis).record(
      facts,
      evaluatePolicy(
        facts,
        parsePolicy({ apiVersion: 'policy.delivery-chain.dev/v1', kind: 'ImagePolicy', metadata: { name: 'x' }, rules: [{ name: 'r' }] }),
        new Date(),
      ),
    );
  });
  after(() => redis.disconnect());

  void it('check lints a policy file', async () => {
    const { out } = await dchain('policy', 'check', join(root, 'policy/example.yaml'), '--json');
    const result = JSON.parse(out) as { valid: boolean; rules: string[]; version: string };
    assert.equal(result.valid, true);
    assert.deepEqual(result.rules, ['baseline', 'production', 'legacy-observe']);
  });

  void it('check refuses an invalid file naming the field', async () => {
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'apiVersion: policy.delivery-chain.dev/v1\nkind: ImagePolicy\nmetadata: {name: x}\nmode: block\nrules: [{name: r}]\n');
    const { err, exitCode } = await dchain('policy', 'check', bad);
    assert.equal(exitCode, 1);
    assert.match(err, /CONFIG_INVALID: invalid .*bad\.yaml:\n {2}- mode: Invalid option/);
  });

  void it('test evaluates a scan summary file and exits 3 on deny', async () => {
    const scanFile = join(dir, 'scan.json');
    writeFileSync(scanFile, JSON.stringify(scanSummary('127.0.0.1:5000', 'team/app', digest, { findings: [criticalFinding()] })));
    const { out, exitCode } = await dchain('--config', configPath, 'policy', 'test', `127.0.0.1:5000/team/app@${digest}`, '--facts', scanFile);
    assert.equal(exitCode, 3);
    assert.match(out, /^denied 127\.0\.0\.1:5000\/team\/app@sha256:7{64} \(enforce, policy example:2026-11-22:sha256-[0-9a-f]{12}\)/);
    assert.match(out, /✗ \[baseline\/vulnerabilities\.fixable\] CRITICAL CVE-2026-1000 in openssl 3\.0\.1 \(fixed in 3\.0\.2\)/);
  });

  void it('test re-evaluates the facts of the latest gate decision, per namespace, without recording', async () => {
    const before = await new DecisionStore(redis).history(digest);
    const ref = `127.0.0.1:5999/legacy/tool@${digest}`;
    const plain = await dchain('--config', configPath, 'policy', 'test', ref, '--json');
    const decision = JSON.parse(plain.out) as { allowed: boolean; violations: Array<{ policyRule: string; rule: string; enforced: boolean }> };
    assert.equal(decision.allowed, false);
    assert.deepEqual(
      decision.violations.map((v) => `${v.policyRule}/${v.rule}/${v.enforced}`),
      ['baseline/hygiene.nonRootUser/true'],
    );
    const prod = await dchain('--config', configPath, 'policy', 'test', ref, '--namespace', 'prod', '--json');
    const prodRules = (JSON.parse(prod.out) as typeof decision).violations.map((v) => `${v.policyRule}/${v.rule}`);
    assert.ok(prodRules.includes('production/provenance.signatures'), prodRules.join(', '));
    assert.equal((await new DecisionStore(redis).history(digest)).length, before.length, 'policy test must not record decisions');
  });

  void it('test says when there is nothing to evaluate', async () => {
    const { err, exitCode } = await dchain('--config', configPath, 'policy', 'test', `127.0.0.1:5999/team/none@sha256:${'8'.repeat(64)}`);
    assert.equal(exitCode, 1);
    assert.match(err, /NOT_FOUND: no gate decision recorded for 127\.0\.0\.1:5999\/team\/none/);
  });
});
