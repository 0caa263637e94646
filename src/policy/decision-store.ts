import { type Redis } from 'ioredis';
import { z } from 'zod';
import { ChainError } from '../errors/chain-error';
import { type Decision, decisionSchema } from './decision';
import { type ImageFacts, imageFactsSchema } from './image-facts';

export const overrideSchema = z.object({
  actor: z.string().min(1),
  reason: z.string().min(1),
  at: z.string(),
  workflowId: z.string().optional(),
});

export const decisionRecordSchema = z.object({
  decision: decisionSchema,
  facts: imageFactsSchema,
  recordedAt: z.string(),
  /** A break-glass override: the image passes although the decision denied it. */
  override: overrideSchema.optional(),
});

export type Override = z.infer<typeof overrideSchema>;
export type DecisionRecord = z.infer<typeof decisionRecordSchema>;

/** Why cached decisions of a digest must be dropped. */
export type InvalidationReason = 'decision' | 'override' | 'rescan' | 'signed';

/** True when the record lets the image run: the decision allowed it, or someone broke the glass. */
export function recordAllows(record: DecisionRecord): boolean {
  return record.decision.allowed || record.override !== undefined;
}

/**
 * Gate decisions in Redis: the latest record per digest, every record ever made in a history list,
 * and a pub/sub channel that tells admission servers to drop what they cached for a digest.
 */
export class DecisionStore {
  readonly channel: string;

  constructor(
    private readonly redis: Redis,
    private readonly prefix = 'dchain:policy:',
  ) {
    this.channel = `${prefix}invalidate`;
  }

  async record(facts: ImageFacts, decision: Decision, now = new Date()): Promise<DecisionRecord> {
    return this.write({ decision, facts, recordedAt: now.toISOString() }, 'decision');
  }

  /** Records a break-glass override on top of the latest decision for `digest`. */
  async recordOverride(digest: string, override: Omit<Override, 'at'>, now = new Date()): Promise<DecisionRecord> {
    const latest = await this.latest(digest);
    if (!latest) throw new ChainError('NOT_FOUND', `no gate decision recorded for ${digest}; nothing to override`);
    return this.write({ ...latest, recordedAt: now.toISOString(), override: { ...override, at: now.toISOString() } }, 'override');
  }

  async latest(digest: string): Promise<DecisionRecord | undefined> {
    const raw = await this.redis.get(this.latestKey(digest));
    return raw === null ? undefined : this.parse(raw, digest);
  }

  /** Every record for `digest`, newest first. */
  async history(digest: string, limit = 100): Promise<DecisionRecord[]> {
    const raws = await this.redis.lrange(this.historyKey(digest), 0, limit - 1);
    return raws.map((raw) => this.parse(raw, digest));
  }

  /** Tells every admission server to forget what it cached for `digest` (after a rescan or a signature). */
  async invalidate(digest: string, reason: InvalidationReason): Promise<void> {
    await this.redis.publish(this.channel, JSON.stringify({ digest, reason }));
  }

  /**
   * Calls `onInvalidate` for every invalidation published, on a dedicated connection. `onReset`
   * runs after the subscription (re)connects, when messages may have been missed.
   */
  async subscribe(handlers: { onInvalidate: (digest: string, reason: string) => void; onReset?: () => void }): Promise<() => Promise<void>> {
    const subscriber = this.redis.duplicate();
    subscriber.on('message', (channel: string, message: string) => {
      if (channel !== this.channel) return;
      try {
        const { digest, reason } = JSON.parse(message) as { digest: unknown; reason: unknown };
        if (typeof digest === 'string') handlers.onInvalidate(digest, String(reason));
      } catch {
        handlers.onReset?.(); // an unreadable message may have concerned anything
      }
    });
    let subscribedOnce = false;
    subscriber.on('ready', () => {
      if (subscribedOnce) handlers.onReset?.();
      subscribedOnce = true;
    });
    await subscriber.subscribe(this.channel);
    return async () => {
      await subscriber.quit().catch(() => subscriber.disconnect());
    };
  }

  private async write(record: DecisionRecord, reason: InvalidationReason): Promise<DecisionRecord> {
    const digest = record.decision.image.digest;
    const json = JSON.stringify(decisionRecordSchema.parse(record));
    await this.redis
      .multi()
      .set(this.latestKey(digest), json)
      .lpush(this.historyKey(digest), json)
      .publish(this.channel, JSON.stringify({ digest, reason }))
      .exec()
      .then((results) => {
        const failed = results?.find(([err]) => err);
        if (failed) throw failed[0] as Error;
      });
    return record;
  }

  private parse(raw: string, digest: string): DecisionRecord {
    try {
      return decisionRecordSchema.parse(JSON.parse(raw));
    } catch (cause) {
      throw new ChainError('INTERNAL', `stored decision for ${digest} is unreadable: ${(cause as Error).message}`, { cause });
    }
  }

  private latestKey(digest: string): string {
    return `${this.prefix}decision:${digest}`;
  }

  private historyKey(digest: string): string {
    return `${this.prefix}history:${digest}`;
  }
}
