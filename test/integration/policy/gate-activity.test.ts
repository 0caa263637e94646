import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { Redis } from 'ioredis';
import { createGateActivities } from '../../../activities/gate';
import { parseConfig } from '../../../src/config/load';
import { createLogger } from '../../../src/log/logger';
import { type Decision, DecisionStore, parsePolicy, type Violation } from '../../../src/policy';
import { useRedis } from '../../support/services';
import { criticalFinding, scanSummary } from './scan-fixture';

const digest = (n: number) => `sha256:${String(n).repeat(64).slice(0, 64)}`;
const policy = (mode: 'enforce' | 'dry-run') =>
  parsePolicy({
    apiVersion: 'policy.delivery-chain.dev/v1',
    kind: 'ImagePolicy',
    metadata: { name: 'gate-test' },
    mode,
    rules: [{ name: 'baseline', vulnerabilities: { maxSeverity: { fixable: 'MEDIUM' } }, hygiene: { forbidSetuid: true, requireNonRootUser: true } }],
  });

void describe('gate activity with a real Redis', async () => {
  let redis: Redis;
  const env = new MockActivityEnvironment({ workflowExecution: { workflowId: 'chain-test', runId: 'run-1' } });
  const logger = createLogger({ level: 'silent' });
  const config = parseConfig({});

  before(async () => {
    redis = new Redis((await useRedis()).url);
  });
  after(() => redis.disconnect());

  void it('records and returns an allowing decision, naming the registry by host', async () => {
    const { evaluateGate } = createGateActivities({ config, logger, redis, policy: policy('enforce') });
    const decision = await (env.run(evaluateGate, {
      registry: 'source',
      repository: 'team/app',
      digest: digest(1),
      scan: scanSummary('source', 'team/app', digest(1)),
    }) as Promise<Decision>);
    assert.equal(decision.allowed, true);
    assert.equal(decision.image.registry, '127.0.0.1:5000', 'the configured registry "source" is named by its host');
    const stored = await new DecisionStore(redis).latest(digest(1));
    assert.deepEqual(stored?.decision, decision);
    assert.equal(stored?.facts.hygiene.user, '65532');
  });

  void it('fails a deny for good with the violations as details, after recording it', async () => {
    const { evaluateGate } = createGateActivities({ config, logger, redis, policy: policy('enforce') });
    const scan = scanSummary('127.0.0.1:5000', 'team/app', digest(2), { findings: [criticalFinding()], user: 'root', setuid: ['/bin/su'] });
    const failure = await env.run(evaluateGate, { registry: '127.0.0.1:5000', repository: 'team/app', digest: digest(2), scan }).then(
      () => assert.fail('the gate allowed a vulnerable root image'),
      (err: unknown) => err,
    );
    assert.ok(failure instanceof ApplicationFailure);
    assert.equal(failure.type, 'PolicyDenied');
    assert.equal(failure.nonRetryable, true);
    const violations = failure.details as Violation[];
    assert.deepEqual(
      violations.map((v) => v.rule),
      ['vulnerabilities.fixable', 'hygiene.setuid', 'hygiene.nonRootUser'],
    );
    assert.equal(violations[0]?.evidence.id, 'CVE-2026-1000');
    assert.match(failure.message, /CRITICAL CVE-2026-1000 in openssl/);
    const stored = await new DecisionStore(redis).latest(digest(2));
    assert.equal(stored?.decision.allowed, false);
  });

  void it('in dry-run lets the same image through and records what it would have denied', async () => {
    const { evaluateGate } = createGateActivities({ config, logger, redis, policy: policy('dry-run') });
    const scan = scanSummary('127.0.0.1:5000', 'team/app', digest(3), { findings: [criticalFinding()] });
    const decision = await (env.run(evaluateGate, { registry: '127.0.0.1:5000', repository: 'team/app', digest: digest(3), scan }) as Promise<Decision>);
    assert.equal(decision.allowed, true);
    assert.equal(decision.mode, 'dry-run');
    assert.equal(decision.violations.length, 1);
    assert.match(decision.warnings.join('\n'), /dry-run: rule baseline would deny/);
  });

  void it('refuses a scan of another digest as bad input, non-retryable', async () => {
    const { evaluateGate } = createGateActivities({ config, logger, redis, policy: policy('enforce') });
    const err = await env
      .run(evaluateGate, { registry: '127.0.0.1:5000', repository: 'team/app', digest: digest(4), scan: scanSummary('127.0.0.1:5000', 'team/app', digest(5)) })
      .catch((e: unknown) => e);
    assert.ok(err instanceof ApplicationFailure);
    assert.equal(err.type, 'BAD_INPUT');
    assert.equal(err.nonRetryable, true);
  });

  void it('records a break-glass override on top of the deny and keeps the history', async () => {
    const { recordBreakGlass } = createGateActivities({ config, logger, redis, policy: policy('enforce') });
    await env.run(recordBreakGlass, { digest: digest(2), actor: 'alice', reason: 'hotfix for incident 42' });
    const store = new DecisionStore(redis);
    const latest = await store.latest(digest(2));
    assert.equal(latest?.decision.allowed, false);
    assert.deepEqual(
      { actor: latest?.override?.actor, reason: latest?.override?.reason, workflowId: latest?.override?.workflowId },
      { actor: 'alice', reason: 'hotfix for incident 42', workflowId: 'chain-test' },
    );
    const history = await store.history(digest(2));
    assert.equal(history.length, 2);
    assert.equal(history[1]?.override, undefined);
  });

  void it('publishes an invalidation for every record', async () => {
    const store = new DecisionStore(redis);
    const seen: string[] = [];
    const unsubscribe = await store.subscribe({ onInvalidate: (d, reason) => seen.push(`${reason} ${d}`) });
    await store.invalidate(digest(6), 'rescan');
    await store.recordOverride(digest(1), { actor: 'bob', reason: 'test' });
    for (let i = 0; i < 50 && seen.length < 2; i++) await new Promise((r) => setTimeout(r, 20));
    await unsubscribe();
    assert.deepEqual(seen, [`rescan ${digest(6)}`, `override ${digest(1)}`]);
  });
});
