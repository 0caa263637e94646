/**
 * Fail closed on hostile images: a scan stopped by one of its limits ends the chain *blocked* (verdict
 * denied, the limit as the reason, subscribers told), after one scan attempt — never allowed, never retried.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { type ApplicationFailure, WorkflowFailedError } from '@temporalio/client';
import { parseConfig } from '../../../src/config/load';
import { type Config } from '../../../src/config/schema';
import { RegistryClient } from '../../../src/registry';
import { generateKeyPair } from '../../../src/signing';
import { deliveryChain } from '../../../workflows/delivery-chain';
import { useChainWorker, type RunningChainWorker } from '../../support/chain-worker';
import { recordHistory } from '../../support/histories';
import { manyFilesLayer, pushLayers } from '../../support/hostile-images';
import { testDataDir, useRedis, useRegistry, useTemporal } from '../../support/services';
import { type ReceivedNotification, useSubscriber } from '../../support/subscriber';
import { type ChainInput, type ChainStatus } from '../../../src/chain';

const KEY_PASSWORD = 'scan-limit-test-key-password';

void describe('a scan over its limits blocks the chain', () => {
  let config: Config;
  let chain: RunningChainWorker;
  let client: RegistryClient;
  let received: ReceivedNotification[];

  before(async () => {
    const dataDir = testDataDir();
    const [temporal, redis, registry] = await Promise.all([useTemporal(dataDir), useRedis(dataDir), useRegistry({ name: 'source', dataDir })]);
    const keys = await generateKeyPair(KEY_PASSWORD);
    writeFileSync(join(dataDir, 'cosign.key'), keys.privateKeyPem, { mode: 0o600 });
    process.env.SCAN_LIMIT_TEST_KEY_PASSWORD = KEY_PASSWORD;
    const subscriber = await useSubscriber();
    received = subscriber.received;
    config = parseConfig({
      dataDir,
      temporal: { address: temporal.address, taskQueue: `scan-limit-${process.pid}` },
      redis: { url: redis.url },
      // Sync never runs (the chain is blocked at the scan); the default target only has to exist.
      registries: [
        { name: 'source', url: registry.url },
        { name: 'mirror', url: registry.url },
      ],
      scan: { limits: { maxEntries: 1000 } },
      signing: { key: { kind: 'file', path: join(dataDir, 'cosign.key'), passwordEnv: 'SCAN_LIMIT_TEST_KEY_PASSWORD' } },
      distribute: { subscribers: [{ name: 'audit', url: subscriber.url, secret: 'subscriber-secret-0123456789' }] },
    });
    client = RegistryClient.fromConfig(config.registries[0]!);
    chain = await useChainWorker(config);
  });

  void it('ends blocked with the limit as its reason, after a single scan attempt', async () => {
    const image = await pushLayers(client, 'hostile/many', 'v1', [manyFilesLayer(5000)]);
    const input: ChainInput = {
      registry: 'source',
      repository: 'hostile/many',
      digest: image.digest,
      tags: ['v1'],
      pushedAt: new Date().toISOString(),
      source: 'test',
    };
    const handle = await chain.client.workflow.start(deliveryChain, {
      taskQueue: config.temporal.taskQueue,
      workflowId: `chain:source/hostile/many@${image.digest}`,
      args: [input],
    });
    const err = await handle.result().then(
      () => assert.fail('the chain must not succeed'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof WorkflowFailedError);
    const cause = err.cause as ApplicationFailure;
    assert.equal(cause.type, 'ScanLimitExceeded');
    assert.equal(cause.nonRetryable, true);
    assert.match(cause.message, /^scan limit: image has more than 1000 tar entries$/);
    const status = await handle.query<ChainStatus>('status');
    assert.equal(status.stage, 'blocked');
    assert.deepEqual(status.results.gate, { allowed: false, violations: [{ rule: 'scan-limits', message: 'image has more than 1000 tar entries' }] });
    const description = await handle.describe();
    assert.deepEqual(description.searchAttributes.DcVerdict, ['denied']);
    // One scan attempt: TOO_LARGE is permanent, so the activity is not retried.
    const history = await handle.fetchHistory();
    const scans = (history.events ?? []).filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'scanImage');
    assert.equal(scans.length, 1);
    const started = (history.events ?? []).find((e) => e.activityTaskStartedEventAttributes)?.activityTaskStartedEventAttributes;
    assert.equal(started?.attempt ?? 1, 1);
    assert.ok(
      received.some((n) => n.body.includes('"denied"') && n.body.includes('more than 1000 tar entries')),
      'subscribers are told',
    );
    await recordHistory('scan-limit-blocked', handle, config.temporal.address as string);
  });
});
