/**
 * The ingest queue on Redis behind Sentinel: events submitted while the primary is SIGKILLed. A
 * submit that resolved (the API's 202) must be in the queue on the promoted replica; one that failed
 * is retried, as a registry retries a delivery that got no 2xx. Needs no Temporal server.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { describe, it } from 'node:test';
import { IngestQueue, producerConnection } from '../../src/ingest';
import { startRedisSentinel } from '../../workers/local/redis-sentinel';
import { onCleanup, testDataDir } from '../support/services';

const EVENTS = 300;

describe('ingest queue through Sentinel', () => {
  it(
    'keeps every acknowledged event across a SIGKILL of the primary (replicaAcks 1), the client following the promotion by itself',
    { timeout: 180_000 },
    async () => {
      const redis = await startRedisSentinel({ dataDir: testDataDir(), downAfterMs: 1000 });
      onCleanup(() => redis.stop());
      const connection = producerConnection({ name: redis.name, sentinels: redis.sentinels });
      connection.on('error', () => undefined);
      onCleanup(() => connection.disconnect());
      const queue = new IngestQueue(connection, { dedupTtlMs: 600_000, attempts: 3, replicaAcks: 1 });
      onCleanup(() => queue.close());

      const primary = await redis.currentPrimary();
      const acknowledged = new Set<string>();
      let failures = 0;
      let killedAt = 0;
      const submitUntilAcknowledged = async (i: number) => {
        const digest = `sha256:${createHash('sha256').update(`event-${i}`).digest('hex')}`;
        const event = {
          registry: 'source',
          repository: 'failover/redis',
          digest,
          tags: [`v${i}`],
          pushedAt: new Date().toISOString(),
          source: 'source',
          deliveryId: `delivery-${i}`,
        };
        for (;;) {
          try {
            const result = await queue.submit(event);
            acknowledged.add(result.workflowId);
            return;
          } catch {
            failures++;
            await delay(200);
          }
        }
      };
      const inFlight: Array<Promise<void>> = [];
      for (let i = 0; i < EVENTS; i++) {
        inFlight.push(submitUntilAcknowledged(i));
        if (i === EVENTS / 3) {
          killedAt = Date.now();
          await redis.nodes.find((n) => n.port === primary)?.process.kill();
        }
        if (i % 10 === 0) await delay(20);
      }
      await Promise.all(inFlight);
      const promoted = await redis.currentPrimary();
      if (promoted === primary) assert.fail(`Sentinel promoted the replica:\n${await redis.describe()}`);
      const jobs = await queue.queue.getJobs(['waiting', 'paused', 'delayed', 'prioritized'], 0, -1);
      const queued = new Set(
        jobs.flatMap((j) => ('input' in j.data ? [`chain:${j.data.input.registry}/${j.data.input.repository}@${j.data.input.digest}`] : [])),
      );
      const lost = [...acknowledged].filter((id) => !queued.has(id));
      process.stdout.write(
        `redis failover: ${EVENTS} events, ${failures} refused while failing over (retried), ${lost.length} acknowledged but lost, ${((Date.now() - killedAt) / 1000).toFixed(1)} s to drain\n`,
      );
      assert.equal(acknowledged.size, EVENTS);
      assert.deepEqual(lost, []);
    },
  );

  it('calls the Sentinels ready only while they can fail over: not with the replica down', { timeout: 180_000 }, async () => {
    const dataDir = testDataDir();
    const redis = await startRedisSentinel({ dataDir, downAfterMs: 1000 });
    onCleanup(() => redis.stop());
    const replica = redis.nodes[1];
    assert.ok(replica);
    await replica.process.kill();
    await assert.rejects(redis.waitFailoverReady(5_000), (err: Error) => {
      assert.match(err.message, /cannot fail over after 5000 ms/);
      assert.match(err.message, /sentinel-2 :\d+ \{"tilt":"sentinel_tilt:0 [^"]*","master":\{/);
      assert.match(err.message, /s_down|disconnected/, 'the replica seen down');
      return true;
    });
    await replica.process.start();
    await redis.waitFailoverReady(60_000);
  });
});
