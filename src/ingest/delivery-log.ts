import { type Redis } from 'ioredis';
import { z } from 'zod';

const LOG_KEY = 'dchain:ingest:deliveries';
/** Entries kept in memory while Redis is unreachable, written once it answers again. */
const MAX_BACKLOG = 1000;
/** Entries are written in batches: one Redis round trip per interval, not per delivery. */
const FLUSH_INTERVAL_MS = 50;

export const deliveryEntrySchema = z.strictObject({
  time: z.string(),
  source: z.string(),
  status: z.number().int(),
  /** accepted, duplicate, dropped, unauthorized, bad-request, unavailable… */
  outcome: z.string(),
  workflowIds: z.array(z.string()),
  events: z.number().int(),
  error: z.string().optional(),
  /** Why the delivery ended as it did, e.g. "2 pull, 1 artifact" for a drop (older entries have none). */
  reason: z.string().optional(),
});
export type DeliveryEntry = z.infer<typeof deliveryEntrySchema>;

/**
 * Every webhook delivery the API answered, newest first, capped at `size` entries (a Redis list).
 * The log is an audit aid, not the durable path: entries are batched every 50 ms and kept in
 * memory while Redis is down.
 */
export class DeliveryLog {
  private pending: DeliveryEntry[] = [];
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();

  constructor(
    private readonly redis: Redis,
    private readonly size: number,
  ) {}

  /** Never throws: the log must not turn a delivery's answer into an error. */
  record(entry: DeliveryEntry): void {
    this.pending.push(entry);
    if (this.pending.length > MAX_BACKLOG) this.pending.splice(0, this.pending.length - MAX_BACKLOG);
    this.timer ??= setTimeout(() => void this.flush(), FLUSH_INTERVAL_MS);
  }

  /** Writes what is pending; entries stay pending if Redis does not take them. */
  async flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.flushing = this.flushing.then(async () => {
      if (this.pending.length === 0) return;
      const batch = this.pending;
      this.pending = [];
      try {
        await this.redis
          .multi()
          .lpush(LOG_KEY, ...batch.map((e) => JSON.stringify(e)))
          .ltrim(LOG_KEY, 0, this.size - 1)
          .exec();
      } catch {
        this.pending = [...batch, ...this.pending].slice(-MAX_BACKLOG);
      }
    });
    return this.flushing;
  }

  async list(limit: number): Promise<DeliveryEntry[]> {
    await this.flush();
    const raw = await this.redis.lrange(LOG_KEY, 0, Math.max(0, limit - 1));
    const stored = raw.flatMap((line) => {
      const parsed = deliveryEntrySchema.safeParse(safeJson(line));
      return parsed.success ? [parsed.data] : [];
    });
    return [...[...this.pending].reverse(), ...stored].slice(0, limit);
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
