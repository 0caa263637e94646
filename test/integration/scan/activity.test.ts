import assert from 'node:assert/strict';
import { copyFileSync, cpSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { Redis } from 'ioredis';
import { createActivityDeps } from '../../../activities/deps';
import { createRescanActivities, type RescannedImage } from '../../../activities/rescan';
import { createScanActivities } from '../../../activities/scan';
import { configSchema } from '../../../src/config/schema';
import { ChainError } from '../../../src/errors';
import { createLogger } from '../../../src/log/logger';
import { type ScanSummary } from '../../../src/scan';
import { RescanFindingsStore } from '../../../src/scan/rescan-findings';
import { busyboxSpec, pushImage, writeOciImage } from '../../support/images';
import { testDataDir, useRedis, useRegistry } from '../../support/services';
import { OSV_FIXTURES } from './scan-support';

void describe('scan activities with a real registry and Redis', () => {
  let activities: ReturnType<typeof createScanActivities> & ReturnType<typeof createRescanActivities>;
  let redis: Redis;
  let digest: string;
  let osvDir: string;
  const heartbeats: unknown[] = [];
  const env = new MockActivityEnvironment();
  env.on('heartbeat', (d: unknown) => heartbeats.push(d));

  before(async () => {
    const dataDir = testDataDir();
    osvDir = join(dataDir, 'osv');
    cpSync(join(OSV_FIXTURES, 'npm'), osvDir, { recursive: true });
    const registry = await useRegistry();
    const redisServer = await useRedis();
    redis = new Redis(redisServer.url);
    const config = configSchema.parse({ dataDir, registries: [{ name: 'source', url: registry.url }], redis: { url: redisServer.url } });
    const deps = createActivityDeps(config, createLogger({ level: 'silent' }), { redis });
    activities = { ...createScanActivities(deps), ...createRescanActivities(deps) };
    const layout = join(dataDir, 'layout');
    const lockfile = JSON.stringify({ name: 'app', lockfileVersion: 3, packages: { '': { name: 'app' }, 'node_modules/minimist': { version: '1.2.0' } } });
    const desc = await writeOciImage(
      layout,
      busyboxSpec({
        user: '1000',
        extra: [
          { path: 'app', type: 'directory' },
          { path: 'app/package-lock.json', content: lockfile },
        ],
      }),
      'v1',
    );
    digest = desc.digest;
    await pushImage(layout, 'v1', `${registry.host}/app:v1`);
  });
  after(() => redis.disconnect());

  void it('scans by digest, heartbeats per layer and keeps the SBOM in Redis', async () => {
    const summary = (await env.run(activities.scanImage, { registry: 'source', repository: 'app', digest })) as ScanSummary;
    assert.equal(summary.digest, digest);
    assert.deepEqual(summary.findings.map((f) => f.id).sort(), ['GHSA-vh95-rmgr-6w4m', 'GHSA-xvch-5gv4-984h']);
    assert.equal(summary.sbom.store, 'redis');
    assert.equal(summary.osv.records, 6);
    const stored = JSON.parse((await redis.get(summary.sbom.key))!) as { sbom: { specVersion: string } };
    assert.equal(stored.sbom.specVersion, '1.6');
    assert.ok(heartbeats.length >= 1);
  });

  void it('rescans from the stored SBOM and refuses unknown digests for good', async () => {
    const again = (await env.run(activities.rescanImage, { digest })) as RescannedImage;
    assert.equal(again.counts.CRITICAL, 1);
    // The workflow gets the counts; the findings wait in Redis for the re-gate, for a couple of days.
    assert.deepEqual(Object.keys(again).sort(), ['counts', 'digest', 'osv', 'registry', 'repository', 'scannedAt']);
    const kept = await new RescanFindingsStore(redis).get(digest, again.osv.version);
    assert.deepEqual(kept?.findings.map((f) => f.id).sort(), ['GHSA-vh95-rmgr-6w4m', 'GHSA-xvch-5gv4-984h']);
    assert.equal(kept?.scannedAt, again.scannedAt);
    const ttl = await redis.ttl(`dchain:rescan:findings:${digest}:${again.osv.version}`);
    assert.ok(ttl > 24 * 3600 && ttl <= 2 * 24 * 3600, `ttl ${ttl}`);
    await assert.rejects(
      env.run(activities.rescanImage, { digest: `sha256:${'0'.repeat(64)}` }),
      (e: unknown) => e instanceof ApplicationFailure && e.nonRetryable && e.type === 'NOT_FOUND',
    );
    await assert.rejects(
      env.run(activities.scanImage, { registry: 'source', repository: 'app', digest: 'latest' }),
      (e: unknown) => e instanceof ApplicationFailure && e.nonRetryable && e.type === 'BAD_INPUT',
    );
  });

  void it('refuses kept findings that are not of the type the re-gate trusts, where they leave Redis', async () => {
    const again = (await env.run(activities.rescanImage, { digest })) as RescannedImage;
    const store = new RescanFindingsStore(redis);
    const key = `dchain:rescan:findings:${digest}:${again.osv.version}`;
    const kept = JSON.parse((await redis.get(key))!) as { findings: Array<Record<string, unknown>>; vex?: unknown };
    assert.ok((await store.get(digest, again.osv.version))?.findings.length);
    for (const tamper of [
      (k: typeof kept) => (k.findings[0]!.severity = 'SEVERE'),
      (k: typeof kept) => (k.findings[0]!.fixable = 'yes'),
      (k: typeof kept) => (k.vex = [{ vulnerability: 'CVE-1', status: 'not_affected' }]),
    ]) {
      const bad = structuredClone(kept);
      tamper(bad);
      await redis.set(key, JSON.stringify(bad));
      await assert.rejects(store.get(digest, again.osv.version), (e: unknown) => e instanceof ChainError && e.code === 'BAD_INPUT');
      const many = await store.getMany([digest], again.osv.version);
      assert.ok(many.get(digest) instanceof ChainError);
    }
  });

  void it('refreshes other OSV data at most once per rescan version, even when upstream moved past it', async () => {
    const records = async (osvVersion: string) => ((await env.run(activities.rescanImage, { digest, osvVersion })) as RescannedImage).osv.records;
    // Upstream gains a record: the rescan asked for a version this worker does not hold, so it refreshes once.
    copyFileSync(join(OSV_FIXTURES, 'pypi', 'GHSA-9wx4-h78v-vm56.json'), join(osvDir, 'GHSA-9wx4-h78v-vm56.json'));
    assert.equal(await records('sha256:the-rescans-version'), 7);
    // Upstream moves on again: later images of the same rescan match the data already refreshed.
    copyFileSync(join(OSV_FIXTURES, 'pypi', 'GHSA-j8r2-6x86-q33q.json'), join(osvDir, 'GHSA-j8r2-6x86-q33q.json'));
    assert.equal(await records('sha256:the-rescans-version'), 7);
    assert.equal(await records('sha256:the-rescans-version'), 7);
    // The next rescan (another version) refreshes again.
    assert.equal(await records('sha256:the-next-rescans-version'), 8);
  });
});
