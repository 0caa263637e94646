/**
 * `npm run test:chaos`: faults injected into the real chain on loopback, each scenario ending with
 * its row of `scenario | injected | digests | completed | blocked | lost | duplicated | recovery_s`.
 * lost and duplicated must be 0 (duplicated counts extra delivered chain runs, signatures,
 * attestations and subscriber notifications per digest); a killed worker's activity must resume on
 * the other worker within 45 s (its recovery_s). For an outage, recovery_s is the time from the
 * service's return (or the fault's end) to the last of its digests delivered.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { before, describe, it } from 'node:test';
import { breakGlass } from '../../cli/commands/chain';
import { busyboxSpec, pushImage, writeOciImage } from '../support/images';
import { testDataDir } from '../support/services';
import { type HeldRequest } from '../support/fault-proxy';
import { type ChaosStack, printRow, startChaosStack, WEBHOOK_SECRET } from './harness';
import { type ChainStatus, chainWorkflowId, QUERIES } from '../../src/chain';

const BIG_LAYERS = 6;
const BIG_LAYER_BYTES = 4 * 1024 * 1024;
const MAX_RECOVERY_S = 45;

describe('fault injection on the real chain (loopback)', { timeout: 20 * 60_000 }, () => {
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
    stack.waitFor(
      `${repository}@${digest} delivered`,
      async () => {
        try {
          return (await chainOf(repository, digest).describe()).status.name === 'COMPLETED' ? true : undefined;
        } catch {
          return undefined;
        }
      },
      240_000,
    );

  it('a notification before its image exists, then the push', async () => {
    const { layout, digest } = await image('early');
    const envelope = {
      events: [
        {
          id: 'early-1',
          timestamp: new Date().toISOString(),
          action: 'push',
          target: {
            mediaType: 'application/vnd.oci.image.manifest.v1+json',
            digest,
            repository: 'chaos/early',
            url: `http://x/v2/chaos/early/manifests/${digest}`,
            tag: 'v1',
          },
          request: { useragent: 'test' },
        },
      ],
    };
    const res = await fetch(`${stack.apiUrl}/webhooks/source`, {
      method: 'POST',
      headers: { 'content-type': 'application/vnd.docker.distribution.events.v2+json', authorization: `Bearer ${WEBHOOK_SECRET}` },
      body: JSON.stringify(envelope),
    });
    assert.equal(res.status, 202);
    // The chain fails at build (the manifest never appears within its retries)…
    await stack.waitFor(
      'the early chain to fail',
      async () => ((await chainOf('chaos/early', digest).describe()).status.name === 'FAILED' ? true : undefined),
      120_000,
    );
    const t0 = Date.now();
    // …then the real push: the registry's notification starts a new run (lifecycle rule for failed chains).
    await pushImage(layout, 'v1', `${stack.sourceHost}/chaos/early:v1`);
    await delivered('chaos/early', digest);
    const row = await stack.measure([{ repository: 'chaos/early', digest }]);
    printRow({
      scenario: 'notification before image, then push',
      injected: 'manifest missing at build',
      ...row,
      recovery_s: Math.round((Date.now() - t0) / 1000),
    });
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
    await assert.rejects(
      breakGlass(stack.client, chainWorkflowId({ registry: 'source', repository: 'chaos/glass', digest }), { actor: 'mallory', reason: 'none' }),
      /nothing to override/,
    );
    await delay(1000);
    const row = await stack.measure([{ repository: 'chaos/glass', digest }]);
    printRow({ scenario: 'break-glass on a completed chain', injected: 'refused', ...row, recovery_s: '-' });
    assert.deepEqual([row.lost, row.duplicated], [0, 0]);
  });

  it('5,000 duplicate deliveries', async () => {
    const { layout, digest } = await image('dupes');
    await pushImage(layout, 'v1', `${stack.sourceHost}/chaos/dupes:v1`);
    const body = (id: string) =>
      JSON.stringify({
        events: [
          {
            id,
            timestamp: new Date().toISOString(),
            action: 'push',
            target: {
              mediaType: 'application/vnd.oci.image.manifest.v1+json',
              digest,
              repository: 'chaos/dupes',
              url: `http://x/v2/chaos/dupes/manifests/${digest}`,
              tag: 'v1',
            },
            request: { useragent: 'test' },
          },
        ],
      });
    let next = 0;
    const statuses = new Map<number, number>();
    const lane = async () => {
      while (next < 5000) {
        const n = next++;
        // Half are redeliveries of one event, half new deliveries of the same push.
        const res = await fetch(`${stack.apiUrl}/webhooks/source`, {
          method: 'POST',
          headers: { 'content-type': 'application/vnd.docker.distribution.events.v2+json', authorization: `Bearer ${WEBHOOK_SECRET}` },
          body: body(n % 2 ? 'dupe' : `dupe-${n}`),
        });
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

  /**
   * Kills the worker that runs `stage` of a chain: for short stages a request of theirs is held at a
   * fault proxy until the worker is dead (then released: the write the dead worker sent still lands,
   * and the retry must not add it twice). Recovered when a new attempt runs on the other worker.
   */
  const killWorkerAt = async (stage: 'build' | 'scan' | 'sign' | 'sync' | 'distribute', hold?: (repository: string, digest: string) => HeldRequest) => {
    const repository = `chaos/kill-${stage}`;
    const { layout, digest } = await image(`kill-${stage}`, stage === 'scan' || stage === 'sync');
    const held = hold?.(repository, digest);
    await pushImage(layout, 'v1', `${stack.sourceHost}/${repository}:v1`);
    const handle = chainOf(repository, digest);
    if (held)
      await stack.waitFor(
        `a request of the ${stage} activity`,
        async () => ((await Promise.race([held.arrived.then(() => true), delay(100)])) ? true : undefined),
        180_000,
      );
    // Wait until the stage's activity runs on a worker, then SIGKILL that worker.
    const identity = await stack.waitFor(
      `the ${stage} activity`,
      async () => {
        const status = await handle.query<ChainStatus>(QUERIES.status);
        if (status.stage !== stage) return undefined;
        const pending = (await handle.describe()).raw.pendingActivities ?? [];
        return pending.find((a) => a.lastWorkerIdentity)?.lastWorkerIdentity ?? undefined;
      },
      180_000,
    );
    const pid = Number(identity.split('@')[0]);
    const victim = stack.workers.findIndex((w) => w?.pid === pid);
    assert.ok(victim >= 0, `the activity runs on one of our workers (${identity})`);
    await stack.workers[victim]!.kill();
    const t0 = Date.now();
    held?.release();
    // The killed worker comes back (a new process, a new identity) for the next scenarios, while this one recovers.
    const back = stack.startWorker(victim + 1);
    // Recovered when the activity runs again on the other worker (a new attempt started there), or the chain moved on.
    await stack.waitFor(
      `the ${stage} activity resumed`,
      async () => {
        if ((await handle.query<ChainStatus>(QUERIES.status)).stage !== stage) return true;
        const pending = (await handle.describe()).raw.pendingActivities ?? [];
        return pending.some((a) => (a.attempt ?? 1) > 1 && a.lastStartedTime && a.lastWorkerIdentity && a.lastWorkerIdentity !== identity) ? true : undefined;
      },
      120_000,
    );
    const recovery = Math.round((Date.now() - t0) / 1000);
    await delivered(repository, digest);
    await delay(1000);
    const row = await stack.measure([{ repository, digest }]);
    printRow({
      scenario: `worker SIGKILL at ${stage}`,
      injected: held ? 'SIGKILL of the worker running it, its registry write in flight' : 'SIGKILL of the worker running it',
      ...row,
      recovery_s: recovery,
    });
    await back;
    assert.deepEqual([row.lost, row.duplicated], [0, 0]);
    assert.ok(recovery <= MAX_RECOVERY_S, `recovered in ${recovery} s`);
  };
  const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

  it('worker SIGKILL at build', () =>
    // The build stage of a push reads the pushed manifest by digest.
    killWorkerAt('build', (repository, digest) =>
      stack.sourceFaults.holdNext(/^(GET|HEAD)$/, new RegExp(`^/v2/${escape(repository)}/manifests/${escape(digest)}$`)),
    ));
  it('worker SIGKILL at scan', () => killWorkerAt('scan'));
  it('worker SIGKILL at sign', () =>
    // The signature manifest's upload: the dead worker's write lands after it died.
    killWorkerAt('sign', (repository, digest) =>
      stack.sourceFaults.holdNext(/^PUT$/, new RegExp(`^/v2/${escape(repository)}/manifests/${escape(digest.replace(':', '-'))}\\.sig$`)),
    ));
  it('worker SIGKILL at sync', () => killWorkerAt('sync'));
  it('worker SIGKILL at distribute', () =>
    // The promotion tag in the mirror.
    killWorkerAt('distribute', (repository) => stack.mirrorFaults.holdNext(/^PUT$/, new RegExp(`^/v2/${escape(repository)}/manifests/stable$`))));

  /** n small images pushed at once into chaos/<prefix>-<i>. */
  const burst = async (prefix: string, n: number) => {
    const images = await Promise.all(Array.from({ length: n }, async (_, i) => ({ repository: `chaos/${prefix}-${i}`, ...(await image(`${prefix}-${i}`)) })));
    return {
      images,
      push: () => Promise.all(images.map((img) => pushImage(img.layout, 'v1', `${stack.sourceHost}/${img.repository}:v1`))),
      delivered: () => Promise.all(images.map((img) => delivered(img.repository, img.digest))),
    };
  };
  const since = (t0: number) => Math.round((Date.now() - t0) / 1000);
  /** What started a digest's latest chain run: a webhook source's name, or `reconcile`. */
  const startedBy = async (repository: string, digest: string) => {
    const history = await chainOf(repository, digest).fetchHistory();
    const payload = history.events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0]?.data;
    return payload ? (JSON.parse(Buffer.from(payload).toString()) as { source?: string }).source : undefined;
  };

  it('Redis killed for 20 s with events queued', async () => {
    const inFlight = await burst('redis-running', 2);
    const queued = await burst('redis-queued', 3);
    await inFlight.push();
    // These stay in the queue (the queue worker paused) until after Redis comes back from its AOF.
    await stack.ingest.worker.pause(true);
    try {
      await queued.push();
      // Accepted: each push has its job in the queue (one the paused worker had already fetched may have started its chain).
      await stack.waitFor('the notifications queued', async () => {
        const jobs = await stack.ingest.queue.queue.getJobs(['waiting', 'prioritized', 'delayed', 'active']);
        const queuedDigests = new Set(jobs.map((j) => (j.data as { input?: { digest?: string } }).input?.digest));
        const started = async (img: { repository: string; digest: string }) =>
          chainOf(img.repository, img.digest)
            .describe()
            .then(
              () => true,
              () => false,
            );
        for (const img of queued.images) if (!queuedDigests.has(img.digest) && !(await started(img))) return undefined;
        return true;
      });
      await stack.redis.process.kill();
    } finally {
      // Whatever happened, the next scenarios get a running queue worker.
      stack.ingest.worker.resume();
    }
    await delay(20_000);
    await stack.redis.process.start();
    const t0 = Date.now();
    await Promise.all([inFlight.delivered(), queued.delivered()]);
    const recovery = since(t0);
    await delay(1000);
    const row = await stack.measure([...inFlight.images, ...queued.images]);
    printRow({ scenario: 'Redis killed 20 s', injected: 'SIGKILL of Redis with 3 events queued, 2 chains running', ...row, recovery_s: recovery });
    assert.deepEqual([row.lost, row.duplicated], [0, 0]);
  });

  it('Temporal down 30 s during a burst', async () => {
    const before = await burst('temporal-before', 2);
    const during = await burst('temporal-during', 4);
    await before.push();
    await stack.temporal.process.kill();
    const down = Date.now();
    await during.push();
    await delay(Math.max(0, 30_000 - (Date.now() - down)));
    await stack.temporal.process.start();
    const t0 = Date.now();
    await Promise.all([before.delivered(), during.delivered()]);
    const recovery = since(t0);
    await delay(1000);
    const row = await stack.measure([...before.images, ...during.images]);
    printRow({ scenario: 'Temporal down 30 s during a burst', injected: 'SIGKILL of the Temporal server, 4 pushes while down', ...row, recovery_s: recovery });
    for (const [i, w] of stack.workers.entries()) assert.ok(w?.running, `worker ${i + 1} survived the outage`);
    assert.deepEqual([row.lost, row.duplicated], [0, 0]);
  });

  it('sync target answering 503 for 60 s', async () => {
    const pushes = await burst('mirror-503', 2);
    stack.mirrorFaults.fail(503);
    const down = Date.now();
    await pushes.push();
    await delay(Math.max(0, 60_000 - (Date.now() - down)));
    stack.mirrorFaults.fail(undefined);
    const t0 = Date.now();
    await pushes.delivered();
    const recovery = since(t0);
    await delay(1000);
    const row = await stack.measure(pushes.images);
    printRow({ scenario: 'sync target 503 for 60 s', injected: 'every mirror request answered 503', ...row, recovery_s: recovery });
    assert.deepEqual([row.lost, row.duplicated], [0, 0]);
  });

  it('source registry restarted with notifications pending', async () => {
    const pushes = await burst('registry-restart', 3);
    // The API is away, so the registry holds the pushes' notifications and retries them…
    await stack.api.kill();
    await pushes.push();
    await delay(2000);
    // …until it restarts: its notification queue lives in memory and is gone.
    await stack.sourceRegistry.process.stop();
    await stack.restartApi();
    await stack.sourceRegistry.process.start();
    const t0 = Date.now();
    // Reconciliation lists the source and starts the chains nobody was told about.
    await pushes.delivered();
    const recovery = since(t0);
    await delay(1000);
    const row = await stack.measure(pushes.images);
    const starters = await Promise.all(pushes.images.map((img) => startedBy(img.repository, img.digest)));
    // Reconciliation submits as `reconcile:<source>`.
    const byReconcile = starters.filter((s) => s?.startsWith('reconcile')).length;
    printRow({
      scenario: 'source registry restarted',
      injected: `restart with 3 notifications pending (${byReconcile} chains started by reconcile)`,
      ...row,
      recovery_s: recovery,
    });
    assert.deepEqual([row.lost, row.duplicated], [0, 0]);
  });

  it('API killed under load', async () => {
    const early = await burst('api-early', 3);
    const late = await burst('api-late', 3);
    await early.push();
    // 8 senders redeliver the early pushes' events (new delivery ids) as fast as the API takes them;
    // a refused or broken delivery is sent again, as registries do.
    let sending = true;
    let sent = 0;
    let broken = 0;
    const lane = async () => {
      while (sending) {
        const img = early.images[sent % early.images.length]!;
        const events = [
          {
            id: `load-${sent++}`,
            timestamp: new Date().toISOString(),
            action: 'push',
            target: {
              mediaType: 'application/vnd.oci.image.manifest.v1+json',
              digest: img.digest,
              repository: img.repository,
              url: `http://x/v2/${img.repository}/manifests/${img.digest}`,
              tag: 'v1',
            },
            request: { useragent: 'test' },
          },
        ];
        try {
          const res = await fetch(`${stack.apiUrl}/webhooks/source`, {
            method: 'POST',
            headers: { 'content-type': 'application/vnd.docker.distribution.events.v2+json', authorization: `Bearer ${WEBHOOK_SECRET}` },
            body: JSON.stringify({ events }),
          });
          await res.arrayBuffer();
          if (res.status >= 300) broken++;
        } catch {
          broken++;
          await delay(100);
        }
      }
    };
    const load = Promise.all(Array.from({ length: 8 }, lane));
    await delay(2000);
    // The late pushes' notifications are in flight when the API dies; the registry retries them.
    const latePushes = late.push();
    await delay(300);
    await stack.api.kill();
    await delay(3000);
    await stack.restartApi();
    const t0 = Date.now();
    await latePushes;
    await delay(2000);
    sending = false;
    await load;
    await Promise.all([early.delivered(), late.delivered()]);
    const recovery = since(t0);
    await delay(1000);
    const row = await stack.measure([...early.images, ...late.images]);
    printRow({
      scenario: 'API killed under load',
      injected: `SIGKILL of the API during ${sent} deliveries (${broken} refused or broken, resent) and 3 pushes`,
      ...row,
      recovery_s: recovery,
    });
    assert.ok(broken > 0, 'the kill landed while deliveries were in flight');
    assert.deepEqual([row.lost, row.duplicated], [0, 0]);
  });
});
