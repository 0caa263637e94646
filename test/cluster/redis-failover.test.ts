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
      assert.notEqual(promoted, primary, 'Sentinel promoted the replica');
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
});
