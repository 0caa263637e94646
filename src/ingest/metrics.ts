import { Counter, Gauge, Registry } from 'prom-client';

export interface IngestMetrics {
  registry: Registry;
  received: Counter<'source'>;
  accepted: Counter<'source'>;
  dropped: Counter<'source' | 'reason'>;
  deliveries: Counter<'source' | 'status'>;
  queueDepth: Gauge<'state'>;
}

/**
 * The ingestion metrics on their own registry (one per API instance, so tests can run several).
 * `collectDepth` is called on every scrape to read the queue's job counts.
 */
export function createIngestMetrics(collectDepth: () => Promise<Record<string, number>>, registry = new Registry()): IngestMetrics {
  const received = new Counter({
    name: 'dchain_webhook_events_received_total',
    help: 'Registry events received in webhook deliveries',
    labelNames: ['source'] as const,
    registers: [registry],
  });
  const accepted = new Counter({
    name: 'dchain_webhook_events_accepted_total',
    help: 'Events queued to start or extend a chain',
    labelNames: ['source'] as const,
    registers: [registry],
  });
  const dropped = new Counter({
    name: 'dchain_webhook_events_dropped_total',
    help: 'Events that started no chain, by reason',
    labelNames: ['source', 'reason'] as const,
    registers: [registry],
  });
  const deliveries = new Counter({
    name: 'dchain_webhook_deliveries_total',
    help: 'Webhook deliveries answered, by HTTP status',
    labelNames: ['source', 'status'] as const,
    registers: [registry],
  });
  const queueDepth = new Gauge({
    name: 'dchain_ingest_queue_depth',
    help: 'Jobs in the ingestion queue by state (dead = dead-letter queue)',
    labelNames: ['state'] as const,
    registers: [registry],
    async collect() {
      try {
        for (const [state, count] of Object.entries(await collectDepth())) this.set({ state }, count);
      } catch {
        // Redis unreachable: keep the last values; the scrape itself must still answer.
      }
    },
  });
  return { registry, received, accepted, dropped, deliveries, queueDepth };
}
