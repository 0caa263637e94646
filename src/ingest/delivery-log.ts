import { type Redis } from 'ioredis';
import { z } from 'zod';

const LOG_KEY = 'dchain:ingest:deliveries';
/** Entries kept in memory while Redis is unreachable, written once it answers again. */
const MAX_BACKLOG = 1000;

export const deliveryEntrySchema = z.strictObject({
  time: z.string(),
  source: z.string(),
  status: z.number().int(),
  /** accepted, duplicate, dropped, unauthorized, bad-request, unavailable… */
  outcome: z.string(),
  workflowIds: z.array(z.string()),
  events: z.number().int(),
  error: z.string().optional(),
});
export type DeliveryEntry = z.infer<typeof deliveryEntrySchema>;

/** Every webhook delivery the API answered, newest first, capped at `size` entries (a Redis list). */
export class DeliveryLog {
  private backlog: DeliveryEntry[] = [];

  constructor(
    private readonly redis: Redis,
    private readonly size: number,
  ) {}

  /** Never throws: the log must not turn a delivery's answer into an error. */
  async record(entry: DeliveryEntry): Promise<void> {
    const pending = [...this.backlog, entry];
    try {
      await this.redis.multi().lpush(LOG_KEY, ...pending.map((e) => JSON.stringify(e))).ltrim(LOG_KEY, 0, this.size - 1).exec();
      this.backlog = [];
    } catch {
      this.backlog = pending.slice(-MAX_BACKLOG);
    }
  }

  async list(limit: number): Promise<DeliveryEntry[]> {
    const raw = await this.redis.lrange(LOG_KEY, 0, Math.max(0, limit - 1));
    const stored = raw.flatMap((line) => {
      const parsed = deliveryEntrySchema.safeParse(safeJson(line));
      return parsed.success ? [parsed.data] : [];
    });
    return [...[...this.backlog].reverse(), ...stored].slice(0, limit);
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
