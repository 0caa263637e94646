/**
 * `npm run test:chaos`: faults injected into the real chain on loopback, each scenario ending with
 * its row of `scenario | injected | digests | completed | blocked | lost | duplicated | recovery_s`.
 * lost and duplicated must be 0 (duplicated counts extra delivered chain runs, signatures,
 * attestations and subscriber notifications per digest); a killed worker's activity must resume on
 * the other worker within 45 s.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { before, describe, it } from 'node:test';
import { breakGlass } from '../../cli/commands/chain';
import { busyboxSpec, pushImage, writeOciImage } from '../support/images';
import { testDataDir } from '../support/services';
import { type ChaosStack, printRow, startChaosStack, WEBHOOK_SECRET } from './harness';
import { type ChainStatus, chainWorkflowId } from '../../src/chain';

const BIG_LAYERS = 6;
const BIG_LAYER_BYTES = 4 * 1024 * 1024;
const MAX_RECOVERY_S = 45;

describe('fault injection on the real chain (loopback)', { timeout: 8 * 60_000 }, () => {
  let stack: ChaosStack;
  before(async () => {
    stack = await startChaosStack();
    await Promise.all([stack.startWorker(1), stack.startWorker(2)]);
    process.stdout.write('\n| scenario | injected | digests | completed | blocked | lost | duplicated | recovery_s |\n|---|---|---|---|---|---|---|---|\n');
  });

  const image = async (marker: string, big = false) => {
    const layout = join(testDataDir(), marker);
    const spec = big
      ? { layers: Array.from({ length: BIG_LAYERS }, (_, i) => [{ path: `data-${i}.bin`, content: randomBytes(BIG_LAYER_BYTES) }]), user: '1000' }
      : busyboxSpec({ user: '1000', extra: [{ path: 'marker.txt', content: marker }] });
    const desc = await writeOciImage(layout, spec, 'v1');
    return { layout, digest: desc.digest };
  };
  const chainOf = (repository: string, digest: string) => stack.client.workflow.getHandle(chainWorkflowId({ registry: 'source', repository, digest }));
  const delivered = (repository: string, digest: string) =>
    stack.waitFor(`${repository}@${digest} delivered`, async () => {
      try {
        return (await chainOf(repository, digest).describe()).status.name === 'COMPLETED' ? true : undefined;
      } catch {
        return undefined;
      }
    }, 240_000);

  it('a notification before its image exists, then the push', async () => {
    const { layout, digest } = await image('early');
    const envelope = {
      events: [{ id: 'early-1', timestamp: new Date().toISOString(), action: 'push', target: { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest, repository: 'chaos/early', url: `http://x/v2/chaos/early/manifests/${digest}`, tag: 'v1' }, request: { useragent: 'test' } }],
    };
    const res = await fetch(`${stack.apiUrl}/webhooks/source`, { method: 'POST', headers: { 'content-type': 'application/vnd.docker.distribution.events.v2+json', authorization: `Bearer ${WEBHOOK_SECRET}` }, body: JSON.stringify(envelope) });
    assert.equal(res.status, 202);
    // The chain fails at build (the manifest never appears within its retries)…
    await stack.waitFor('the early chain to fail', async () => ((await chainOf('chaos/early', digest).describe()).status.name === 'FAILED' ? true : undefined), 120_000);
    const t0 = Date.now();
    // …then the real push: the registry's notification starts a new run (lifecycle rule for failed chains).
    await pushImage(layout, 'v1', `${stack.sourceHost}/chaos/early:v1`);
    await delivered('chaos/early', digest);
    const row = await stack.measure([{ repository: 'chaos/early', digest }]);
    printRow({ scenario: 'notification before image, then push', injected: 'manifest missing at build', ...row, recovery_s: Math.round((Date.now() - t0) / 1000) });
    assert.deepEqual([row.lost, row.duplicated], [0, 0]);
  });

  it('a retag after delivery', async () => {
    const { layout, digest } = await image('retag');
    await pushImage(layout, 'v1', `${stack.sourceHost}/chaos/retag:v1`);
    await delivered('chaos/retag', digest);
    await pushImage(layout, 'v1', `${stack.sourceHost}/chaos/retag:v2`);
    await stack.waitFor('v2 in the mirror', async () => ((await stack.mirror.headManifest('chaos/retag', 'v2'))?.digest === digest ? true : undefined));
    await stack.waitFor('the tag notification', async () => (stack.notes.some((n) => n.digest === digest && n.event === 'tagged') ? true : undefined));
    const row = await stack.measure([{ repository: 'chaos/retag', digest }]);
    printRow({ scenario: 'retag after delivery', injected: 'new tag on a delivered digest', ...row, recovery_s: '-' });
    assert.deepEqual([row.lost, row.duplicated], [0, 0]);
  });

  it('break-glass on a completed chain', async () => {
    const { layout, digest } = await image('glass');
    await pushImage(layout, 'v1', `${stack.sourceHost}/chaos/glass:v1`);
    await delivered('chaos/glass', digest);
    await assert.rejects(breakGlass(stack.client, chainWorkflowId({ registry: 'source', repository: 'chaos/glass', digest }), { actor: 'mallory', reason: 'none' }), /nothing to override/);
    await delay(1000);
    const row = await stack.measure([{ repository: 'chaos/glass', digest }]);
    printRow({ scenario: 'break-glass on a completed chain', injected: 'refused', ...row, recovery_s: '-' });
    assert.deepEqual([row.lost, row.duplicated], [0, 0]);
  });

  it('5,000 duplicate deliveries', async () => {
    const { layout, digest } = await image('dupes');
    await pushImage(layout, 'v1', `${stack.sourceHost}/chaos/dupes:v1`);
    const body = (id: string) => JSON.stringify({ events: [{ id, timestamp: new Date().toISOString(), action: 'push', target: { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest, repository: 'chaos/dupes', url: `http://x/v2/chaos/dupes/manifests/${digest}`, tag: 'v1' }, request: { useragent: 'test' } }] });
    let next = 0;
    const statuses = new Map<number, number>();
    const lane = async () => {
      while (next < 5000) {
        const n = next++;
        // Half are redeliveries of one event, half new deliveries of the same push.
        const res = await fetch(`${stack.apiUrl}/webhooks/source`, { method: 'POST', headers: { 'content-type': 'application/vnd.docker.distribution.events.v2+json', authorization: `Bearer ${WEBHOOK_SECRET}` }, body: body(n % 2 ? 'dupe' : `dupe-${n}`) });
        await res.arrayBuffer();
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      }
    };
    await Promise.all(Array.from({ length: 16 }, lane));
    assert.equal([...statuses.keys()].filter((s) => s >= 300).length, 0, JSON.stringify([...statuses]));
    await delivered('chaos/dupes', digest);
    await delay(2000);
    const row = await stack.measure([{ repository: 'chaos/dupes', digest }]);
    printRow({ scenario: '5,000 duplicate deliveries', injected: '5000 deliveries of one push', ...row, recovery_s: '-' });
    assert.deepEqual([row.lost, row.duplicated], [0, 0]);
  });

  for (const stage of ['scan', 'sync'] as const) {
    it(`worker SIGKILL at ${stage}`, async () => {
      const repository = `chaos/kill-${stage}`;
      const { layout, digest } = await image(`kill-${stage}`, true);
      await pushImage(layout, 'v1', `${stack.sourceHost}/${repository}:v1`);
      const handle = chainOf(repository, digest);
      // Wait until the stage's activity runs on a worker, then SIGKILL that worker.
      const identity = await stack.waitFor(`the ${stage} activity`, async () => {
        const status = await handle.query<ChainStatus>('status');
        if (status.stage !== stage) return undefined;
        const pending = (await handle.describe()).raw.pendingActivities ?? [];
        return pending.find((a) => a.lastWorkerIdentity)?.lastWorkerIdentity ?? undefined;
      }, 180_000);
      const pid = Number(identity.split('@')[0]);
      const victim = stack.workers.findIndex((w) => w?.pid === pid);
      assert.ok(victim >= 0, `the activity runs on one of our workers (${identity})`);
      await stack.workers[victim]!.kill();
      const t0 = Date.now();
      // Recovered when the activity runs again on the other worker (a new attempt started there), or the chain moved on.
      await stack.waitFor(`the ${stage} activity resumed`, async () => {
        if ((await handle.query<ChainStatus>('status')).stage !== stage) return true;
        const pending = (await handle.describe()).raw.pendingActivities ?? [];
        return pending.some((a) => (a.attempt ?? 1) > 1 && a.lastStartedTime && a.lastWorkerIdentity && a.lastWorkerIdentity !== identity) ? true : undefined;
      }, 120_000);
      const recovery = Math.round((Date.now() - t0) / 1000);
      await delivered(repository, digest);
      const row = await stack.measure([{ repository, digest }]);
      printRow({ scenario: `worker SIGKILL at ${stage}`, injected: 'SIGKILL of the worker running it', ...row, recovery_s: recovery });
      // The killed worker comes back for the next scenario.
      await stack.startWorker(victim + 1);
      assert.deepEqual([row.lost, row.duplicated], [0, 0]);
      assert.ok(recovery <= MAX_RECOVERY_S, `recovered in ${recovery} s`);
    });
  }
});
