import { Counter, Gauge, type Registry } from 'prom-client';
import { type IngestQueue } from '../../src/ingest';

/**
 * The ingestion worker's metrics: queue depth by state and the age of the oldest job waiting (a
 * growing age with a steady depth means nothing consumes), and jobs finished by outcome.
 * Read from Redis on every scrape; while Redis is down the last values stay.
 */
export function createIngestWorkerMetrics(registry: Registry, queue: IngestQueue): { jobs: Counter<'outcome'> } {
  new Gauge({
    name: 'dchain_ingest_queue_depth',
    help: 'Jobs in the ingestion queue by state (dead = dead-letter queue)',
    labelNames: ['state'] as const,
    registers: [registry],
    async collect() {
      try {
        for (const [state, count] of Object.entries(await queue.depth())) this.set({ state }, count);
      } catch {
        // Redis unreachable: keep the last values.
      }
    },
  });
  new Gauge({
    name: 'dchain_ingest_queue_oldest_age_seconds',
    help: 'Age of the oldest job waiting in the ingestion queue (0 when none waits)',
    registers: [registry],
    async collect() {
      try {
        const [oldest] = await queue.queue.getJobs(['waiting', 'prioritized'], 0, 0, true);
        this.set(oldest ? Math.max(0, (Date.now() - oldest.timestamp) / 1000) : 0);
      } catch {
        // Redis unreachable: keep the last value.
      }
    },
  });
  const jobs = new Counter({
    name: 'dchain_ingest_jobs_total',
    help: 'Ingestion jobs finished by this worker, by outcome',
    labelNames: ['outcome'] as const,
    registers: [registry],
  });
  return { jobs };
}
