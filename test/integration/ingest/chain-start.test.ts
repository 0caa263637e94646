import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ensureReconcileSchedule } from '../../../workers/temporal/schedules';
import { pushImage } from '../../support/images';
import { sample, SECRET } from './helpers';
import { type IngestStack, startIngestStack, tinyImage } from './stack';
import { chainWorkflowId, SCHEDULE_IDS } from '../../../src/chain';

const chainId = (repository: string, digest: string) => chainWorkflowId({ registry: 'source', repository, digest });

void describe('registry pushes start exactly one chain per digest (real registry, Redis, Temporal)', () => {
  let stack: IngestStack;
  before(async () => {
    stack = await startIngestStack();
  });
  after(() => stack?.stop());

  const tagsOf = (workflowId: string) => stack.client.workflow.getHandle(workflowId).query<string[]>('tags');
  const waitForTags = (workflowId: string, expected: string[]) =>
    stack.waitFor(`${workflowId} with tags ${expected.join(',')}`, async () => {
      const tags = await tagsOf(workflowId);
      return expected.every((t) => tags.includes(t)) ? tags : undefined;
    });

  void it('skopeo copies of real images start one workflow per digest, new tags joining it', async () => {
    const a = join(stack.dataDir, 'img-a');
    const b = join(stack.dataDir, 'img-b');
    const digestA = await tinyImage(a, 'a');
    const digestB = await tinyImage(b, 'b');
    await pushImage(a, 'latest', `${stack.registry.host}/team/a:v1`);
    await pushImage(a, 'latest', `${stack.registry.host}/team/a:v2`);
    await pushImage(a, 'latest', `${stack.registry.host}/team/a:v1`);
    await pushImage(b, 'latest', `${stack.registry.host}/team/b:v1`);
    assert.deepEqual(await waitForTags(chainId('team/a', digestA), ['v1', 'v2']), ['v1', 'v2']);
    await waitForTags(chainId('team/b', digestB), ['v1']);
    const runs = await stack.chainRuns();
    assert.deepEqual([...runs.entries()].sort(), [
      [chainId('team/a', digestA), 1],
      [chainId('team/b', digestB), 1],
    ]);
  });

  void it('the same envelope delivered 5 times starts one chain', async () => {
    const { body, contentType } = sample('manifest-push-oci');
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) {
      const res = await fetch(`${stack.apiUrl}/webhooks/dist`, {
        method: 'POST',
        headers: { 'content-type': contentType, authorization: `Bearer ${SECRET}` },
        body: JSON.stringify(body),
      });
      statuses.push(res.status);
    }
    assert.deepEqual(statuses, [202, 200, 200, 200, 200]);
    const id = chainId('demo/app', 'sha256:c8faf9f7274ab9e18454695eee03561dcdab1f26326ac9f89963360901d2b810');
    await waitForTags(id, ['v1']);
    assert.equal((await stack.chainRuns()).get(id), 1);
  });

  void it('a signature pushed next to an image starts no chain', async () => {
    const sig = join(stack.dataDir, 'img-sig');
    const image = join(stack.dataDir, 'img-signed');
    const imageDigest = await tinyImage(image, 'signed');
    const sigDigest = await tinyImage(sig, 'a signature payload');
    await pushImage(image, 'latest', `${stack.registry.host}/team/signed:v1`);
    await pushImage(sig, 'latest', `${stack.registry.host}/team/signed:sha256-${imageDigest.slice(7)}.sig`);
    await waitForTags(chainId('team/signed', imageDigest), ['v1']);
    // The signature's notification was handled (the log shows it) without a chain.
    await stack.waitFor('the signature delivery in the log', async () => {
      const deliveries = await stack.api.app.inject({ method: 'GET', url: '/webhooks/deliveries?limit=200' });
      const list = (deliveries.json() as { deliveries: Array<{ outcome: string }> }).deliveries;
      return list.filter((d) => d.outcome === 'dropped').length >= 1 ? true : undefined;
    });
    await new Promise((r) => setTimeout(r, 1000));
    const metrics = (await stack.api.app.inject({ method: 'GET', url: '/metrics' })).body;
    assert.match(metrics, /dchain_webhook_events_dropped_total\{source="dist",reason="artifact"\} [1-9]/);
    assert.equal((await stack.chainRuns()).has(chainId('team/signed', sigDigest)), false);
  });

  void it('answers 503 while Redis is stopped; the registry retries and the chain starts once Redis is back', async () => {
    const dir = join(stack.dataDir, 'img-outage');
    const digest = await tinyImage(dir, 'redis-outage');
    await stack.redis.process.stop();
    await pushImage(dir, 'latest', `${stack.registry.host}/team/outage:v1`);
    await stack.waitFor('a 503 answered to the registry', async () => {
      const metrics = (await stack.api.app.inject({ method: 'GET', url: '/metrics' })).body;
      return /dchain_webhook_deliveries_total\{source="dist",status="503"\} [1-9]/.test(metrics) ? true : undefined;
    });
    await stack.redis.process.start();
    await waitForTags(chainId('team/outage', digest), ['v1']);
  });

  void it('reconciliation starts chains for pushes whose notifications a registry restart lost', async () => {
    const dir = join(stack.dataDir, 'img-lost');
    const digest = await tinyImage(dir, 'lost');
    // Notifications go nowhere (nothing listens there) and are dropped when the registry restarts.
    await stack.restartRegistry('http://127.0.0.1:9/webhooks/dist');
    await pushImage(dir, 'latest', `${stack.registry.host}/team/lost:v1`);
    await stack.restartRegistry(`${stack.apiUrl}/webhooks/dist`);
    assert.equal((await stack.chainRuns()).has(chainId('team/lost', digest)), false);
    const summaries = await stack.client.workflow.execute('reconcile', { taskQueue: stack.config.temporal.taskQueue, workflowId: 'reconcile-test', args: [] });
    const dist = (summaries as Array<{ source: string; queued: number; known: number }>).find((s) => s.source === 'dist');
    assert.equal(dist?.queued, 1, JSON.stringify(summaries));
    assert.ok((dist?.known ?? 0) >= 3);
    await waitForTags(chainId('team/lost', digest), ['v1']);
    assert.equal((await stack.chainRuns()).get(chainId('team/lost', digest)), 1);
  });

  void it('keeps one reconcile schedule at the configured interval, whose runs reconcile', async () => {
    await ensureReconcileSchedule(stack.client, { ...stack.config, ingest: { ...stack.config.ingest, reconcileInterval: '1h' } });
    await ensureReconcileSchedule(stack.client, stack.config);
    const handle = stack.client.schedule.getHandle(SCHEDULE_IDS.reconcile);
    const description = await handle.describe();
    assert.equal(description.spec.intervals?.[0]?.every, 10 * 60 * 1000);
    assert.equal(description.action.workflowType, 'reconcile');
    await handle.trigger();
    const run = await stack.waitFor('a scheduled reconcile run', async () => (await handle.describe()).info.recentActions[0]?.action.workflow);
    const summaries = (await stack.client.workflow.getHandle(run.workflowId, run.firstExecutionRunId).result()) as Array<{ source: string; queued: number }>;
    assert.equal(summaries.find((s) => s.source === 'dist')?.queued, 0);
    await handle.delete();
  });
});
