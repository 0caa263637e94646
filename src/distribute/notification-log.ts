import { type Redis } from 'ioredis';
import { z } from 'zod';

export const notificationDeliverySchema = z.object({
  id: z.string(),
  subscriber: z.string(),
  workflowId: z.string(),
  digest: z.string(),
  event: z.string(),
  status: z.enum(['delivered', 'failed']),
  httpStatus: z.number().int().optional(),
  attempts: z.number().int(),
  error: z.string().optional(),
  at: z.string(),
});
export type NotificationDelivery = z.infer<typeof notificationDeliverySchema>;

/**
 * Every outgoing notification's delivery, kept in Redis: per-id records make retries idempotent
 * (a delivered id is never sent again) and a capped list serves `dchain notifications log`.
 */
export class NotificationLog {
  constructor(
    private readonly redis: Redis,
    private readonly prefix = 'dchain:notify',
    private readonly keep = 10_000,
  ) {}

  async get(id: string): Promise<NotificationDelivery | undefined> {
    const raw = await this.redis.get(`${this.prefix}:delivery:${id}`);
    return raw === null ? undefined : notificationDeliverySchema.parse(JSON.parse(raw));
  }

  async record(delivery: NotificationDelivery): Promise<void> {
    const json = JSON.stringify(notificationDeliverySchema.parse(delivery));
    await this.redis
      .multi()
      .set(`${this.prefix}:delivery:${delivery.id}`, json)
      .lpush(`${this.prefix}:log`, json)
      .ltrim(`${this.prefix}:log`, 0, this.keep - 1)
      .exec();
  }

  async list(limit = 50): Promise<NotificationDelivery[]> {
    const rows = await this.redis.lrange(`${this.prefix}:log`, 0, limit - 1);
    return rows.map((r) => notificationDeliverySchema.parse(JSON.parse(r)));
  }
}
