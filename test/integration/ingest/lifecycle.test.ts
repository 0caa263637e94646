import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { type AddressInfo, createServer } from 'node:net';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { breakGlass, retryChain } from '../../../cli/commands/chain';
import { type Redis } from 'ioredis';
import { IngestQueue, workerConnection } from '../../../src/ingest';
import { type ChainError } from '../../../src/errors/chain-error';
import { lastRun } from '../../../workers/temporal/chain-control';
import { pushImage } from '../../support/images';
import { manifestPush, SECRET } from './helpers';
import { type IngestStack, startIngestStack, tinyImage } from './stack';
import { chainWorkflowId, tagDeliveryWorkflowId } from '../../../src/chain';

/**
 * The lifecycle rules at ingestion, with the real API, queue, queue worker and Temporal, and a
 * stand-in chain that ends as the test tells it (recording its outcome with the real activity).
 * Test config: failed chains run again after 1 s (doubling, at most 2 s), at most 2 failures in a row.
 */
void describe('chain lifecycle: running, failed, blocked, delivered (real Redis, Temporal, queue worker)', () => {
  let stack: IngestStack;
  let redis: Redis;
  let deliveries = 0;
  before(async () => {
    stack = await startIngestStack();
    redis = workerConnection(stack.redis.url);
  });
  after(async () => {
    redis?.disconnect();
    await stack?.stop();
  });

  const digestOf = (name: string) => `sha256:${createHash('sha256').update(name).digest('hex')}`;
  const idOf = (repository: string, digest: string) => chainWorkflowId({ registry: 'source', repository, digest });
  const push = async (repository: string, digest: string, tag: string) => {
    const res = await fetch(`${stack.apiUrl}/webhooks/dist`, {
      method: 'POST',
      headers: { 'content-type': 'application/vnd.docker.distribution.events.v2+json', authorization: `Bearer ${SECRET}` },
      body: JSON.stringify(manifestPush(repository, digest, tag, `lifecycle-${++deliveries}`)),
    });
    const body = (await res.json()) as { events: Array<{ outcome: string }> };
    return { status: res.status, outcome: body.events[0]?.outcome };
  };
  const runsOf = async (workflowId: string) => (await stack.chainRuns()).get(workflowId) ?? 0;
  const waitState = (workflowId: string, state: string, runs?: number) =>
    stack.waitFor(`${workflowId} ${state}${runs ? ` (run ${runs})` : ''}`, async () => {
      const last = await lastRun(stack.client, workflowId);
      if (last?.state !== state) return undefined;
      if (runs !== undefined && (await runsOf(workflowId)) !== runs) return undefined;
      return last;
    });
  const end = async (workflowId: string, how: 'delivered' | 'blocked' | 'failed') => {
    await waitState(workflowId, 'running');
    await stack.client.workflow.getHandle(workflowId).signal('end', how);
    await waitState(workflowId, how);
  };
  /** Queue jobs all handled (started, joined or ignored). */
  const drained = () =>
    stack.waitFor('an idle ingestion queue', async () => {
      const depth = await stack.ingest.queue.depth();
      return depth.waiting + depth.active + depth.delayed === 0 ? true : undefined;
    });

  void it('a re-push of a digest whose chain failed starts a new run after the backoff, and stops after the cap', async () => {
    const digest = digestOf('failed');
    const id = idOf('team/failed', digest);
    assert.deepEqual(await push('team/failed', digest, 'v1'), { status: 202, outcome: 'queued' });
    await end(id, 'failed');
    // Before the lifecycle rules this was answered `duplicate-digest` and the image never ran again.
    assert.deepEqual(await push('team/failed', digest, 'v1'), { status: 202, outcome: 'retry-queued' });
    // More pushes while the retry waits for its backoff join it: one new run.
    assert.deepEqual(await push('team/failed', digest, 'v1'), { status: 202, outcome: 'retry-queued' });
    await waitState(id, 'running', 2);
    await end(id, 'failed');
    assert.deepEqual(await push('team/failed', digest, 'v1'), { status: 200, outcome: 'retry-capped' });
    await drained();
    await delay(2500);
    assert.equal(await runsOf(id), 2, 'no third run after two failures in a row');
  });

  void it('a blocked digest stays blocked on re-push and new tags; a change of verdict starts it again', async () => {
    const digest = digestOf('blocked');
    const id = idOf('team/blocked', digest);
    await push('team/blocked', digest, 'v1');
    await end(id, 'blocked');
    assert.deepEqual(await push('team/blocked', digest, 'v1'), { status: 200, outcome: 'duplicate-digest' });
    assert.deepEqual(await push('team/blocked', digest, 'v2'), { status: 202, outcome: 'tags-queued' });
    await drained();
    assert.equal(await runsOf(id), 1, 'still blocked, not run again');
    assert.equal((await lastRun(stack.client, id))?.state, 'blocked');
    // What a rescan that allows the image does: the chain runs again with every tag it was pushed with.
    const queue = IngestQueue.fromConfig(redis, stack.config.ingest);
    await queue.submitUnblock(
      { registry: 'source', repository: 'team/blocked', digest, tags: [], pushedAt: new Date().toISOString(), source: 'rescan' },
      'decision-1',
    );
    await queue.close();
    await waitState(id, 'running', 2);
    const tags = await stack.client.workflow.getHandle(id).query<string[]>('tags');
    assert.deepEqual(tags, ['v1', 'v2']);
    await end(id, 'delivered');
  });

  void it('a new tag of a delivered digest goes to the tag-delivery path, not a new chain', async () => {
    const digest = digestOf('delivered');
    const id = idOf('team/delivered', digest);
    await push('team/delivered', digest, 'v1');
    await end(id, 'delivered');
    assert.deepEqual(await push('team/delivered', digest, 'latest'), { status: 202, outcome: 'tags-queued' });
    const tagsId = tagDeliveryWorkflowId({ registry: 'source', repository: 'team/delivered', digest });
    const tags = await stack.waitFor('the tag delivery', () => stack.client.workflow.getHandle(tagsId).query<string[]>('tags'));
    assert.deepEqual(tags, ['latest']);
    assert.equal(await runsOf(id), 1, 'no second chain, no rescan');
    await stack.client.workflow.getHandle(tagsId).terminate('test done');
  });

  void it('reconcile queues a digest whose chain failed (under the same backoff)', async () => {
    const dir = join(stack.dataDir, 'img-reconcile-failed');
    const digest = await tinyImage(dir, 'reconcile-failed');
    const id = idOf('team/recfail', digest);
    await pushImage(dir, 'latest', `${stack.registry.host}/team/recfail:v1`);
    await end(id, 'failed');
    await delay(1200); // the 1 s backoff of a first failure
    const summaries = (await stack.client.workflow.execute('reconcile', {
      taskQueue: stack.config.temporal.taskQueue,
      workflowId: 'reconcile-lifecycle',
      args: [],
    })) as Array<{ source: string; queued: number }>;
    assert.ok((summaries.find((s) => s.source === 'dist')?.queued ?? 0) >= 1, JSON.stringify(summaries));
    await waitState(id, 'running', 2);
    await end(id, 'delivered');
  });

  void it('`dchain chain retry` runs only failed chains; break-glass only blocked (or running, before the gate) ones', async () => {
    const failedDigest = digestOf('cli-failed');
    const failed = idOf('team/cli', failedDigest);
    await push('team/cli', failedDigest, 'v1');
    await waitState(failed, 'running');
    await assert.rejects(retryChain(stack.client, redis, stack.config, failed), (e: ChainError) => /is running/.test(e.message));
    await end(failed, 'failed');
    await assert.rejects(
      breakGlass(stack.client, failed, { actor: 'ops', reason: 'INC-1' }),
      (e: ChainError) => e.code === 'BAD_INPUT' && /not blocked by policy.*dchain chain retry/.test(e.message),
    );
    await retryChain(stack.client, redis, stack.config, failed);
    await waitState(failed, 'running', 2);
    await end(failed, 'failed');
    // Two failures in a row is the test's cap: refused unless forced.
    await assert.rejects(retryChain(stack.client, redis, stack.config, failed), (e: ChainError) => /failed 2 times in a row/.test(e.message));
    await retryChain(stack.client, redis, stack.config, failed, { force: true });
    await end(failed, 'delivered');
    await assert.rejects(retryChain(stack.client, redis, stack.config, failed), (e: ChainError) => /delivered/.test(e.message));
    await assert.rejects(breakGlass(stack.client, failed, { actor: 'ops', reason: 'INC-2' }), (e: ChainError) => /nothing to override/.test(e.message));

    const blockedDigest = digestOf('cli-blocked');
    const blocked = idOf('team/cli', blockedDigest);
    await push('team/cli', blockedDigest, 'v2');
    await end(blocked, 'blocked');
    await assert.rejects(retryChain(stack.client, redis, stack.config, blocked), (e: ChainError) => /blocked by policy/.test(e.message));
    const { restarted } = await breakGlass(stack.client, blocked, { actor: 'ops', reason: 'INC-3' });
    assert.equal(restarted, true);
    await waitState(blocked, 'running', 2);
    await end(blocked, 'delivered');
  });

  void it('events naming another registry host run against the configured registry; the named host is never contacted', async () => {
    // A listener standing in for the host an event names: every connection to it is counted.
    let connections = 0;
    const named = createServer((socket) => {
      connections++;
      socket.destroy();
    });
    await new Promise<void>((done) => named.listen(0, '127.0.0.1', done));
    const host = `127.0.0.1:${(named.address() as AddressInfo).port}`;
    try {
      const digest = digestOf('foreign-host');
      const envelope = manifestPush('team/foreign', digest, 'v1', 'foreign-1') as {
        events: Array<{ target: Record<string, unknown>; request: Record<string, unknown> }>;
      };
      envelope.events[0]!.target.url = `http://${host}/v2/team/foreign/manifests/${digest}`;
      envelope.events[0]!.request.host = host;
      const res = await fetch(`${stack.apiUrl}/webhooks/dist`, {
        method: 'POST',
        headers: { 'content-type': 'application/vnd.docker.distribution.events.v2+json', authorization: `Bearer ${SECRET}` },
        body: JSON.stringify(envelope),
      });
      assert.equal(res.status, 202);
      const generic = await fetch(`${stack.apiUrl}/webhooks/generic`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${SECRET}` },
        body: JSON.stringify({ registry: host, repository: 'team/foreign', digest, tag: 'v2' }),
      });
      assert.equal(generic.status, 202);
      // The chain is the configured registry's, and nothing queued names the other host.
      const id = idOf('team/foreign', digest);
      await waitState(id, 'running');
      await stack.waitFor('both tags', async () => ((await stack.client.workflow.getHandle(id).query<string[]>('tags')).length === 2 ? true : undefined));
      const jobs = await stack.ingest.queue.queue.getJobs(['completed', 'waiting', 'active', 'delayed']);
      assert.equal(jobs.filter((j) => JSON.stringify(j.data).includes(host)).length, 0);
      await end(id, 'delivered');
      // Reconcile too reads only the configured registry.
      await stack.client.workflow.execute('reconcile', { taskQueue: stack.config.temporal.taskQueue, workflowId: 'reconcile-foreign', args: [] });
      assert.equal(connections, 0, `no connection to ${host}`);
    } finally {
      named.close();
    }
  });
});
