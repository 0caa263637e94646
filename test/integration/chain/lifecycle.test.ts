import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { breakGlass } from '../../../cli/commands/chain';
import { parseConfig } from '../../../src/config/load';
import { type Config } from '../../../src/config/schema';
import { cosignTag, RegistryClient } from '../../../src/registry';
import { generateKeyPair } from '../../../src/signing';
import { deliverNewTags, recordedInput, startNewRun } from '../../../workers/temporal/chain-control';
import { deliveryChain } from '../../../workflows/delivery-chain';
import { useChainWorker, type RunningChainWorker } from '../../support/chain-worker';
import { busyboxSpec, pushImage, writeOciImage } from '../../support/images';
import { onCleanup, testDataDir, useRedis, useRegistry, useTemporal } from '../../support/services';
import { type ChainInput, type ChainStatus, type TagDeliveryStatus, tagDeliveryWorkflowId } from '../../../src/chain';

const KEY_PASSWORD = 'lifecycle-test-key-password';

/**
 * The lifecycle on the project's real workers: late tags, re-tags of delivered digests, a second
 * run of a delivered chain (no doubled signatures or attestations) and break-glass refusals.
 */
describe('chain lifecycle on the project worker (source, mirror, Redis, Temporal)', () => {
  let config: Config;
  let chain: RunningChainWorker;
  let source: RegistryClient;
  let mirror: RegistryClient;
  let registryHost: string;
  /** Notifications by event, as the subscriber received them. */
  const notes: Array<{ event: string; digest: string; tags?: string[] }> = [];
  let slowSubscriber = false;

  before(async () => {
    const dataDir = testDataDir();
    const [temporal, redis, registry, mirrorRegistry] = await Promise.all([
      useTemporal(dataDir),
      useRedis(dataDir),
      useRegistry({ name: 'source', dataDir }),
      useRegistry({ name: 'mirror', dataDir }),
    ]);
    const keys = await generateKeyPair(KEY_PASSWORD);
    writeFileSync(join(dataDir, 'cosign.key'), keys.privateKeyPem, { mode: 0o600 });
    process.env.LIFECYCLE_TEST_KEY_PASSWORD = KEY_PASSWORD;
    const osvDir = join(dataDir, 'osv');
    mkdirSync(osvDir, { recursive: true });
    // A subscriber that can be made slow, so the chain is still distributing when a tag arrives.
    const subscriber = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        const parsed = JSON.parse(body) as { event: string; digest: string; tags?: string[] };
        notes.push({ event: parsed.event, digest: parsed.digest, ...(parsed.tags ? { tags: parsed.tags } : {}) });
        setTimeout(() => res.writeHead(204).end(), slowSubscriber ? 3000 : 0);
      });
    });
    await new Promise<void>((done) => subscriber.listen(0, '127.0.0.1', done));
    onCleanup(() => new Promise<void>((done) => subscriber.close(() => done())));
    registryHost = registry.host;
    config = parseConfig({
      dataDir,
      temporal: { address: temporal.address, taskQueue: `lifecycle-${process.pid}` },
      redis: { url: redis.url },
      registries: [
        { name: 'source', url: registry.url },
        { name: 'mirror', url: mirrorRegistry.url },
      ],
      sources: [{ name: 'source', registry: 'source', secret: 'webhook-secret-0123456789' }],
      sync: { targets: [{ registry: 'mirror', repositoryPrefix: 'eu/' }] },
      scan: { osv: { directory: osvDir } },
      // No vulnerability data here: the built-in policy would deny for that; these tests are about the lifecycle.
      policy: { mode: 'dry-run' },
      signing: { key: { kind: 'file', path: join(dataDir, 'cosign.key'), passwordEnv: 'LIFECYCLE_TEST_KEY_PASSWORD' } },
      distribute: {
        promoteTags: ['stable'],
        subscribers: [{ name: 'audit', url: `http://127.0.0.1:${(subscriber.address() as AddressInfo).port}/`, secret: 'subscriber-secret-0123456789' }],
      },
    });
    source = RegistryClient.fromConfig(config.registries[0]!);
    mirror = RegistryClient.fromConfig(config.registries[1]!);
    chain = await useChainWorker(config);
  });

  const pushed = async (repository: string, marker: string): Promise<{ input: ChainInput; workflowId: string }> => {
    const layout = join(testDataDir(), marker);
    const desc = await writeOciImage(layout, busyboxSpec({ user: '1000', extra: [{ path: 'marker.txt', content: marker }] }), 'v1');
    await pushImage(layout, 'v1', `${registryHost}/${repository}:v1`);
    const input: ChainInput = { registry: 'source', repository, digest: desc.digest, tags: ['v1'], pushedAt: new Date().toISOString(), source: 'test' };
    return { input, workflowId: `chain:source/${repository}@${desc.digest}` };
  };
  const layers = async (client: RegistryClient, repository: string, digest: string, kind: 'sig' | 'att') =>
    ((await client.getManifest(repository, cosignTag(digest, kind))).manifest as { layers: unknown[] }).layers.length;

  it('tags signalled while the chain distributes reach every target before it completes', async () => {
    const { input, workflowId } = await pushed('demo/late', 'late');
    slowSubscriber = true;
    try {
      const handle = await chain.client.workflow.start(deliveryChain, { taskQueue: config.temporal.taskQueue, workflowId, args: [input] });
      await waitFor('the distribute stage', async () => ((await handle.query<ChainStatus>('status')).stage === 'distribute' ? true : undefined), 120_000);
      await handle.signal('addTags', { tags: ['late'] });
      const result = await handle.result();
      assert.equal(result.stage, 'done');
      assert.deepEqual(result.tags.sort(), ['late', 'v1']);
    } finally {
      slowSubscriber = false;
    }
    assert.equal((await mirror.headManifest('eu/demo/late', 'late'))?.digest, input.digest, 'the late tag is in the mirror');
    assert.deepEqual(
      notes.filter((n) => n.digest === input.digest).map((n) => n.event),
      ['distributed', 'tagged'],
    );
  });

  it('a new tag of a delivered digest is verified, copied to the mirror, promoted and notified, without a rescan', async () => {
    const { input, workflowId } = await pushed('demo/retag', 'retag');
    await chain.client.workflow.execute(deliveryChain, { taskQueue: config.temporal.taskQueue, workflowId, args: [input] });
    // Someone tags the delivered image `latest` in the source registry.
    const manifest = await source.getManifest('demo/retag', input.digest);
    await source.putManifest('demo/retag', 'latest', manifest.bytes, manifest.mediaType);
    await deliverNewTags(chain.client, config.temporal.taskQueue, { registry: 'source', repository: 'demo/retag', digest: input.digest, tags: ['latest'] });
    const status = (await chain.client.workflow.getHandle(tagDeliveryWorkflowId(input)).result()) as TagDeliveryStatus;
    assert.deepEqual(status, { delivered: ['latest'], pending: [] });
    assert.equal((await mirror.headManifest('eu/demo/retag', 'latest'))?.digest, input.digest);
    assert.deepEqual(
      notes.filter((n) => n.digest === input.digest).map((n) => `${n.event}:${(n.tags ?? []).join(',')}`),
      ['distributed:v1', 'tagged:latest'],
    );
    // One chain run: no rescan, no new signature.
    let runs = 0;
    for await (const _ of chain.client.workflow.list({ query: `WorkflowId = '${workflowId}'` })) runs++;
    assert.equal(runs, 1);
    assert.equal(await layers(mirror, 'eu/demo/retag', input.digest, 'sig'), 1);
  });

  it('refuses break-glass on a delivered chain; a second run of the chain adds no second signature or attestation', async () => {
    const { input, workflowId } = await pushed('demo/twice', 'twice');
    await chain.client.workflow.execute(deliveryChain, { taskQueue: config.temporal.taskQueue, workflowId, args: [input] });
    const attestations = await layers(mirror, 'eu/demo/twice', input.digest, 'att');
    assert.ok(attestations >= 3);
    await assert.rejects(
      breakGlass(chain.client, workflowId, { actor: 'mallory', reason: 'because' }),
      /completed and delivered the image.*nothing to override/,
    );
    // A second run of the same digest (as a retry of a chain that failed after signing would be):
    // new scan times, new statements; `.sig` and `.att` keep one entry per key and predicate type.
    const runId = await startNewRun(chain.client, workflowId, config.temporal.taskQueue, await recordedInput(chain.client, workflowId), {
      name: 'addTags',
      args: [{ tags: [] }],
    });
    const second = (await chain.client.workflow.getHandle(workflowId, runId).result()) as ChainStatus;
    assert.equal(second.stage, 'done');
    for (const [client, repository] of [
      [source, 'demo/twice'],
      [mirror, 'eu/demo/twice'],
    ] as const) {
      assert.equal(await layers(client, repository, input.digest, 'sig'), 1, `${repository}: one signature`);
      assert.equal(await layers(client, repository, input.digest, 'att'), attestations, `${repository}: one attestation per predicate type, not two`);
    }
    assert.equal(notes.filter((n) => n.digest === input.digest && n.event === 'distributed').length, 1, 'subscribers told once per chain');
  });
});

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
