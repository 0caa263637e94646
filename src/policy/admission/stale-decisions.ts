import { type DecisionRecord } from '../decision-store';

/** A digest's decision as admission uses it; warnings say when it was served from memory during an outage. */
export interface DecisionSource {
  record: DecisionRecord | undefined;
  warnings: string[];
}

/**
 * The decision-store outage mode. With `maxAgeMs` 0 (the default) a read that fails is a failure
 * (admission then refuses, naming the store); with N > 0 the last decision read from the store for
 * that digest answers while it is at most N ms old, with a warning — and never longer.
 */
export class StaleDecisions {
  private readonly lastRead = new Map<string, { record: DecisionRecord | undefined; at: number }>();

  constructor(
    private readonly maxAgeMs: number,
    private readonly maxEntries: number,
    private readonly now: () => Date = () => new Date(),
  ) {}

  async load(digest: string, read: () => Promise<DecisionRecord | undefined>): Promise<DecisionSource> {
    try {
      const record = await read();
      if (this.maxAgeMs > 0) this.remember(digest, record);
      return { record, warnings: [] };
    } catch (err) {
      const last = this.maxAgeMs > 0 ? this.lastRead.get(digest) : undefined;
      const age = last ? this.now().getTime() - last.at : Infinity;
      if (!last || age > this.maxAgeMs) throw err;
      return {
        record: last.record,
        warnings: [
          `the decision store is unreachable; answered from the decision read ${Math.round(age / 1000)} s ago (served up to ${Math.round(this.maxAgeMs / 1000)} s)`,
        ],
      };
    }
  }

  forget(digest: string): void {
    this.lastRead.delete(digest);
  }

  private remember(digest: string, record: DecisionRecord | undefined): void {
    this.lastRead.delete(digest);
    this.lastRead.set(digest, { record, at: this.now().getTime() });
    if (this.lastRead.size > this.maxEntries) {
      const oldest = this.lastRead.keys().next().value;
      if (oldest !== undefined) this.lastRead.delete(oldest);
    }
  }
}
