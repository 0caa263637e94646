import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type Job } from 'bullmq';
import { type ImageJob } from '../../../src/ingest/queue';
import { type Redis } from 'ioredis';
import { type Config } from '../../../src/config/schema';
import { producerConnection, signBody } from '../../../src/ingest';
import { createLogger } from '../../../src/log/logger';
import { startRedis, type LocalRedis } from '../../../workers/local/redis-server';
import { type Api, buildApi } from '../../../workers/api';
import { testDataDir } from '../../support/services';
import { ingestConfig, manifestPush, sample, SECRET } from './helpers';

const DIGEST = 'sha256:c8faf9f7274ab9e18454695eee03561dcdab1f26326ac9f89963360901d2b810';
const auth = { authorization: `Bearer ${SECRET}` };
const HMAC_KEY = 'hmac-key-for-tests-0123456789';
const ADMIN_TOKEN = 'admin-token-for-tests-0123456789';

void describe('webhook API with a real Redis', () => {
  const dataDir = testDataDir();
  let redisServer: LocalRedis;
  let redis: Redis;
  let api: Api;
  let config: Config;

  before(async () => {
    redisServer = await startRedis({ dataDir });
    redis = producerConnection(redisServer.url);
    redis.on('error', () => undefined);
    await new Promise((resolve) => redis.once('ready', resolve));
    config = ingestConfig({ redisUrl: redisServer.url, hmacSecret: HMAC_KEY, exclude: ['excluded/**'] });
    api = await buildApi({ config, logger: createLogger({ level: 'silent' }), redis, plugins: [] });
  });
  after(async () => {
    await api.app.close();
    redis.disconnect();
    await redisServer.process.stop();
  });

  const post = (source: string, body: unknown, headers: Record<string, string> = {}, raw?: string) =>
    api.app.inject({
      method: 'POST',
      url: `/webhooks/${source}`,
      headers: { 'content-type': 'application/json', ...auth, ...headers },
      payload: raw ?? JSON.stringify(body),
    });
  const waiting = async () => (await api.queue.depth()).waiting;

  void it('queues a captured manifest push and answers 202 only once it is in Redis', async () => {
    const { body, contentType } = sample('manifest-push-oci');
    const res = await post('dist', body, { 'content-type': contentType });
    assert.equal(res.statusCode, 202, res.body);
    assert.deepEqual(res.json().events, [{ workflowId: `chain:source/demo/app@${DIGEST}`, outcome: 'queued' }]);
    const jobs = (await api.queue.queue.getJobs(['waiting'])) as unknown as Array<Job<ImageJob>>;
    assert.equal(jobs.length, 1);
    assert.deepEqual(jobs[0]?.data.input.tags, ['v1']);
    assert.equal(jobs[0]?.data.input.source, 'dist');
  });

  void it('queues nothing more when the same envelope arrives 5 times', async () => {
    const { body, contentType } = sample('manifest-push-oci');
    for (let i = 0; i < 5; i++) {
      const res = await post('dist', body, { 'content-type': contentType });
      assert.equal(res.statusCode, 200);
      assert.equal(res.json().outcome, 'duplicate');
    }
    assert.equal(await waiting(), 1);
  });

  void it('queues a tag-only job when the same digest is pushed under a new tag, and nothing for a re-push', async () => {
    let res = await post('dist', manifestPush('demo/app', DIGEST, 'v2', 'new-delivery-1'));
    assert.equal(res.statusCode, 202);
    assert.equal(res.json().events[0].outcome, 'tags-queued');
    const tagJob = ((await api.queue.queue.getJobs(['waiting'])) as unknown as Array<Job<ImageJob>>).find((j) => j.name === 'add-tags');
    assert.deepEqual(tagJob?.data.tags, ['v2']);
    assert.deepEqual(tagJob?.data.input.tags, ['v1', 'v2']);
    res = await post('dist', manifestPush('demo/app', DIGEST, 'v2', 'new-delivery-2'));
    assert.equal(res.json().events[0].outcome, 'duplicate-digest');
    assert.equal(await waiting(), 2);
  });

  void it('drops blob, mount, pull, artifact and own-sync events and excluded repositories', async () => {
    for (const name of ['blob-push', 'blob-mount', 'manifest-pull', 'manifest-push-artifact-with-subject']) {
      const { body, contentType } = sample(name);
      const res = await post('dist', body, { 'content-type': contentType });
      assert.equal(res.statusCode, 200, `${name}: ${res.body}`);
      assert.equal(res.json().outcome, 'dropped', name);
    }
    const d2 = `sha256:${'1'.repeat(64)}`;
    assert.equal((await post('dist', manifestPush('demo/app', d2, `sha256-${'c'.repeat(64)}.sig`, 'sig-1'))).json().dropped.artifact, 1);
    assert.equal((await post('dist', manifestPush('demo/app', d2, 'v1', 'sync-1', 'delivery-chain-sync/0.1.0'))).json().dropped['own-sync'], 1);
    assert.equal((await post('dist', manifestPush('excluded/app', d2, 'v1', 'ex-1'))).json().dropped.excluded, 1);
    assert.equal(await waiting(), 2);
  });

  void it('refuses missing or wrong secrets with 401 and unknown sources with 404', async () => {
    const body = manifestPush('demo/app', DIGEST, 'v9', 'auth-1');
    let res = await api.app.inject({ method: 'POST', url: '/webhooks/dist', headers: { 'content-type': 'application/json' }, payload: JSON.stringify(body) });
    assert.equal(res.statusCode, 401);
    assert.match(res.json().error, /missing Authorization/);
    res = await post('dist', body, { authorization: 'Bearer wrong-secret-wrong-secret' });
    assert.equal(res.statusCode, 401);
    assert.doesNotMatch(res.body, new RegExp(SECRET));
    res = await post('nope', body);
    assert.equal(res.statusCode, 404);
    assert.match(res.json().error, /no webhook source named "nope"/);
  });

  void it('answers bad input with a 4xx JSON error that names the problem', async () => {
    let res = await post('dist', undefined, {}, '{"events": [');
    assert.equal(res.statusCode, 400);
    assert.match(res.json().error, /not valid JSON/);
    res = await post('dist', { hello: 'world' });
    assert.equal(res.statusCode, 400);
    assert.match(res.json().error, /events/);
    res = await post('dist', manifestPush('demo/app', 'sha256:abc', 'v1', 'bad-digest'));
    assert.equal(res.statusCode, 400);
    assert.match(res.json().error, /events\.0\.target\.digest: a digest of the form sha256:<64 lowercase hex>/);
    res = await post('dist', {}, { 'content-type': 'text/plain' });
    assert.equal(res.statusCode, 415);
    assert.match(res.json().error, /content type text\/plain/);
    res = await post('generic', undefined, {}, JSON.stringify({ registry: 'x', repository: 'a/b', digest: DIGEST, pad: 'x'.repeat(1_100_000) }));
    assert.equal(res.statusCode, 413);
    assert.match(res.json().error, /larger than the limit/);
    res = await post('generic', { registry: 'x', repository: 'Bad Repo', digest: DIGEST, tag: 'v1' });
    assert.equal(res.statusCode, 400);
    assert.match(res.json().error, /repository/);
  });

  void it('accepts Harbor CloudEvents and ACR triggers (whose secret may only ride in ?token=)', async () => {
    const digest = `sha256:${'4'.repeat(64)}`;
    const data = {
      resources: [{ digest, tag: 'v1', resource_url: 'harbor.example.com/hb/app:v1' }],
      repository: { name: 'app', namespace: 'hb', repo_full_name: 'hb/app', repo_type: 'private' },
    };
    let res = await post(
      'harbor',
      { specversion: '1.0', id: 'ce-1', source: '/projects/1/webhook/policies/1', type: 'harbor.artifact.pushed', time: '2026-11-22T21:42:49Z', data },
      { 'content-type': 'application/cloudevents+json' },
    );
    assert.equal(res.statusCode, 202, res.body);
    const acr = JSON.stringify({
      push_data: { digest: `sha256:${'5'.repeat(64)}`, pushed_at: '2026-11-23 05:42:49', tag: 'v1' },
      repository: { name: 'app', namespace: 'acr', repo_full_name: 'acr/app' },
    });
    res = await api.app.inject({ method: 'POST', url: `/webhooks/acr?token=${SECRET}`, headers: { 'content-type': 'application/json' }, payload: acr });
    assert.equal(res.statusCode, 202, res.body);
    res = await api.app.inject({
      method: 'POST',
      url: `/webhooks/dist?token=${SECRET}`,
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify(manifestPush('q/app', DIGEST, 'v1', 'q-1')),
    });
    assert.equal(res.statusCode, 401, 'only ACR sources take the secret from the query');
  });

  void it('checks the HMAC signature and its timestamp on a signed source', async () => {
    const payload = JSON.stringify({ registry: 'source', repository: 'signed/app', digest: `sha256:${'2'.repeat(64)}`, tag: 'v1' });
    const ts = Math.floor(Date.now() / 1000);
    let res = await post('signed', undefined, { 'x-dchain-timestamp': String(ts), 'x-dchain-signature': signBody(HMAC_KEY, ts, payload) }, payload);
    assert.equal(res.statusCode, 202, res.body);
    res = await post('signed', undefined, { 'x-dchain-timestamp': String(ts), 'x-dchain-signature': signBody('another-key-0123456789', ts, payload) }, payload);
    assert.equal(res.statusCode, 401);
    const old = ts - 3600;
    res = await post('signed', undefined, { 'x-dchain-timestamp': String(old), 'x-dchain-signature': signBody(HMAC_KEY, old, payload) }, payload);
    assert.equal(res.statusCode, 401);
    assert.match(res.json().error, /clock skew/);
  });

  void it('answers 503 while Redis is down and accepts the retried delivery once it is back', async () => {
    const body = manifestPush('outage/app', `sha256:${'3'.repeat(64)}`, 'v1', 'outage-1');
    await redisServer.process.stop();
    const down = await post('dist', body);
    assert.equal(down.statusCode, 503);
    assert.equal(down.headers['retry-after'], '5');
    // A balancer takes this replica out of rotation while Redis is away, and keeps it alive.
    const notReady = await api.app.inject({ method: 'GET', url: '/readyz' });
    assert.equal(notReady.statusCode, 503, notReady.body);
    assert.match((notReady.json() as { detail: string }).detail, /^redis: /);
    assert.equal((await api.app.inject({ method: 'GET', url: '/livez' })).statusCode, 200);
    redisServer = await startRedis({ dataDir, port: redisServer.port });
    for (let i = 0; i < 50 && redis.status !== 'ready'; i++) await new Promise((r) => setTimeout(r, 100));
    const retried = await post('dist', body);
    assert.equal(retried.statusCode, 202, retried.body);
    assert.equal((await api.app.inject({ method: 'GET', url: '/readyz' })).statusCode, 200);
    // AOF: what was queued before the restart is still there.
    assert.equal(await waiting(), 6);
  });

  void it('lists deliveries newest first and exports the counters on /metrics', async () => {
    const res = await api.app.inject({ method: 'GET', url: '/webhooks/deliveries?limit=3' });
    assert.equal(res.statusCode, 200);
    const { deliveries } = res.json() as { deliveries: Array<{ status: number; outcome: string; source: string; workflowIds: string[] }> };
    assert.equal(deliveries.length, 3);
    assert.equal(deliveries[0]?.status, 202);
    assert.deepEqual(deliveries[0]?.workflowIds, [`chain:source/outage/app@sha256:${'3'.repeat(64)}`]);
    assert.ok(
      deliveries.some((d) => d.status === 503 && d.outcome === 'unavailable'),
      'the 503 answered while Redis was down is logged once it is back',
    );
    const metrics = (await api.app.inject({ method: 'GET', url: '/metrics' })).body;
    assert.match(metrics, /dchain_webhook_events_dropped_total\{source="dist",reason="blob"\} 1/);
    assert.match(metrics, /dchain_webhook_events_dropped_total\{source="dist",reason="duplicate-delivery"\} 5/);
    assert.match(metrics, /dchain_webhook_deliveries_total\{source="dist",status="401"\} 3/);
    assert.match(metrics, /dchain_webhook_deliveries_total\{source="dist",status="503"\} 1/);
    assert.match(metrics, /dchain_ingest_queue_depth\{state="waiting"\} 6/);
  });

  void it('lets loopback clients read deliveries, and others only with the admin token', async () => {
    const remote = await api.app.inject({ method: 'GET', url: '/webhooks/deliveries', remoteAddress: '10.1.2.3' });
    assert.equal(remote.statusCode, 403);
    assert.match(remote.json().error, /api\.adminToken/);
    const guarded = await buildApi({
      config: { ...config, api: { ...config.api, adminToken: ADMIN_TOKEN } },
      logger: createLogger({ level: 'silent' }),
      redis,
      plugins: [],
    });
    try {
      const read = (headers: Record<string, string>) =>
        guarded.app.inject({ method: 'GET', url: '/webhooks/deliveries?limit=1', remoteAddress: '10.1.2.3', headers });
      assert.equal((await read({})).statusCode, 401);
      assert.equal((await read({ authorization: `Bearer ${SECRET}` })).statusCode, 401, 'a source secret is not the admin token');
      const ok = await read({ authorization: `Bearer ${ADMIN_TOKEN}` });
      assert.equal(ok.statusCode, 200, ok.body);
      assert.equal(ok.json().deliveries.length, 1);
      assert.ok(!ok.body.includes(ADMIN_TOKEN));
    } finally {
      await guarded.app.close();
    }
  });

  void it('commits concurrent deliveries together, deduplicated exactly as if they came one by one', async (t) => {
    const addBulk = t.mock.method(api.queue.queue, 'addBulk');
    const jobsBefore = (await api.queue.queue.getJobs(['waiting'])).length;
    const digests = Array.from({ length: 12 }, (_, i) => `sha256:${String(i).padStart(2, '0')}${'e'.repeat(62)}`);
    // Per digest, all at once: a push, its redelivery, a re-push under the same tag, a push under a new tag.
    const deliveries = digests.flatMap((digest, i) => [
      manifestPush('burst/app', digest, 'v1', `burst-${i}-a`),
      manifestPush('burst/app', digest, 'v1', `burst-${i}-a`),
      manifestPush('burst/app', digest, 'v1', `burst-${i}-b`),
      manifestPush('burst/app', digest, 'v2', `burst-${i}-c`),
    ]);
    const answers = await Promise.all(deliveries.map((d) => post('dist', d)));
    const outcomes = answers.map((r) => r.json().events[0].outcome as string);
    for (let i = 0; i < digests.length; i++) {
      const mine = outcomes.slice(i * 4, i * 4 + 4);
      assert.equal(mine.filter((o) => o === 'queued').length, 1, `one start for ${digests[i]}: ${mine.join(', ')}`);
      assert.equal(mine.filter((o) => o === 'duplicate-delivery').length, 1, mine.join(', '));
    }
    const jobs = ((await api.queue.queue.getJobs(['waiting'])) as unknown as Array<Job<ImageJob>>).filter((j) => j.data.input.repository === 'burst/app');
    assert.equal(jobs.filter((j) => j.name === 'start').length, digests.length);
    for (const digest of digests) {
      const ofDigest = jobs.filter((j) => j.data.input.digest === digest);
      const tagged = new Set(ofDigest.flatMap((j) => j.data.tags));
      assert.deepEqual([...tagged].sort(), ['v1', 'v2'], `every tag of ${digest} reaches its chain once`);
      assert.ok(ofDigest.length <= 2, `at most a start and an add-tags job for ${digest}`);
    }
    assert.equal((await api.queue.queue.getJobs(['waiting'])).length - jobsBefore, jobs.length);
    // Group commit: concurrent deliveries share the writes of their jobs.
    const writes = addBulk.mock.callCount();
    assert.ok(writes >= 1 && writes < jobs.length, `${jobs.length} jobs in ${writes} writes`);
  });
});
