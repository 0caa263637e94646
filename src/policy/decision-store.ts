import { createHash, randomUUID } from 'node:crypto';
import { type Redis } from 'ioredis';
import { z } from 'zod';
import { ChainError } from '../errors';
import { type Decision, decisionSchema, type Violation, violationSchema } from './decision';
import { findingFactsDigest, findingsCompareDigest } from './findings-digest';
import { type FindingFact, findingFactSchema, type ImageFacts, imageFactsSchema } from './image-facts';
import { luaScriptFile, perConnection, runLuaScript } from '../redis';
import { heapBound } from '../scan';
import { itemIdOf, itemIdsSchema, itemList, type ItemList, type StoredItem } from './stored-items';

export const overrideSchema = z.object({
  actor: z.string().min(1),
  reason: z.string().min(1),
  at: z.string(),
  workflowId: z.string().optional(),
});

/** The rescan that last looked at a digest: its workflow, the OSV data it matched, and what it found. */
export const rescanMarkSchema = z.object({
  workflowId: z.string().min(1),
  osvVersion: z.string(),
  at: z.string(),
  /**
   * The verdict this rescan compared with: the decision's verdict before it, or, while an earlier
   * rescan's change is still unnotified, the verdict before that change (what subscribers last heard).
   */
  previousAllowed: z.boolean(),
  findingsChanged: z.boolean(),
  /** True when this rescan recorded a new decision (verdict or findings changed). */
  recorded: z.boolean(),
  /**
   * False while subscribers have not heard of the change this rescan found (a verdict change, or new
   * enforced violations under a break-glass override); the next rescan notifies it if this one could not.
   * Marks written before the field existed were notified in their own run.
   */
  notified: z.boolean().default(true),
});

export const decisionRecordSchema = z.object({
  decision: decisionSchema,
  facts: imageFactsSchema,
  recordedAt: z.string(),
  /** A break-glass override: the image passes although the decision denied it. */
  override: overrideSchema.optional(),
  /** Set by the rescan: the last time stored findings were matched against fresh OSV data. */
  lastRescan: rescanMarkSchema.optional(),
});

/** The latest record as stored: without its findings, which live under a key of their own (see write). */
const storedHeadSchema = decisionRecordSchema.extend({
  facts: imageFactsSchema.omit({ findings: true }),
  findingsDigest: z.string().min(1),
  /** findingsCompareDigest of the findings; absent in heads written before it existed. */
  findingsCompareDigest: z.string().min(1).optional(),
});
const storedFindingsSchema = z.array(findingFactSchema);
/**
 * The latest record as stored since violations have a key of their own too: the decision without its
 * violations, which the head names by violationsDigest. A head without it holds them (written before).
 */
const splitHeadSchema = storedHeadSchema.extend({
  decision: decisionSchema.omit({ violations: true }),
  violationsDigest: z.string().regex(/^sha256:[a-f0-9]{64}$/, 'a sha256:<hex> digest'),
  /**
   * True when its findings' and violations' keys hold the ids of their items in the store's table of
   * items (stored-items.ts); absent in heads written before, whose keys hold the items themselves.
   */
  itemIds: z.literal(true).optional(),
});
const storedViolationsSchema = z.array(violationSchema);

export type Override = z.infer<typeof overrideSchema>;
export type RescanMark = z.infer<typeof rescanMarkSchema>;
export type DecisionRecord = z.infer<typeof decisionRecordSchema>;

/**
 * What `update` writes: `decision` adds a record to the digest's history (a new decision), `refresh`
 * replaces the latest record in place (same decision, newer scan time) and tells no admission server.
 */
export type DecisionUpdate = { kind: 'decision'; record: DecisionRecord; reason: InvalidationReason } | { kind: 'refresh'; record: DecisionRecord };

/**
 * A stored record's findings and violations as `update` read them: parsed on first use, with their
 * digests. `violations` is absent for a head that holds them (written before they had a key of their own).
 */
interface LazyParts {
  /** True when its parts are stored as ids of items (what every write now stores). */
  itemized: boolean;
  accessor: () => FindingFact[];
  findingsDigest: string;
  findingsCompareDigest?: string;
  violations?: { accessor: () => Violation[]; digest: string };
  /** Fetches what the head was read without (one MGET, then one HMGET of their items) for the accessors. */
  fetch: () => Promise<void>;
}

/**
 * What a record's findings or violations accessor throws while they are not fetched (update's
 * `findingsOnDemand`): update fetches them and runs `change` again. Never leaves update from `change`.
 */
class PartNotFetched extends Error {
  constructor(part: string) {
    super(`the ${part} of this decision record were not fetched: they are read only inside DecisionStore.update`);
  }
}

/**
 * What the store knows of a record's findings without reading them: findingFactsDigest of the stored
 * findings, and their findingsCompareDigest (absent for a head written before it existed).
 */
export interface StoredFindings {
  digest: string;
  compareDigest?: string;
}

/**
 * `facts` with the findings of `from` as they are: a stored record's findings stay unread, and a
 * refresh that keeps them rewrites only the record's head (update). Records are never changed in place.
 */
export function withFindingsOf(from: ImageFacts, facts: Omit<ImageFacts, 'findings'>): ImageFacts {
  const out = { ...facts } as ImageFacts;
  Object.defineProperty(out, 'findings', { ...Object.getOwnPropertyDescriptor(from, 'findings')!, enumerable: true });
  return out;
}

/** `facts` without `findings` and the fields named, the findings not read (a stored record's are read only when asked for). */
export function factsWithout<K extends keyof ImageFacts>(facts: ImageFacts, ...omit: K[]): Omit<ImageFacts, 'findings' | K> {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(facts)) if (key !== 'findings' && !(omit as string[]).includes(key)) out[key] = (facts as Record<string, unknown>)[key];
  return out as Omit<ImageFacts, 'findings' | K>;
}

/** One page of gated digests, in digest order; `next` is the cursor of the following page. */
export interface DigestPage {
  digests: string[];
  next?: string;
}

/**
 * Every write of a decision: the latest record, replaced only if it is still the one the caller
 * read (compare-and-set), so a concurrent gate decision or break-glass override is never
 * overwritten by a stale rescan — or whatever it is, for a new gate decision.
 * Keys and arguments: see the script's header.
 */
const COMPARE_AND_WRITE = luaScriptFile(__dirname, 'decision-compare-and-write.lua');

/** Attempts of `update` before a digest that keeps changing under it is reported as a transient error. */
const UPDATE_ATTEMPTS = 5;
/** Keys the one-time index backfill (`backfillIndex`) asks SCAN for per call. */
const SCAN_COUNT = 1000;

/** Why cached decisions of a digest must be dropped. */
export type InvalidationReason = 'decision' | 'override' | 'rescan' | 'signed';

/** True when the record lets the image run: the decision allowed it, or someone broke the glass. */
export function recordAllows(record: DecisionRecord): boolean {
  return record.decision.allowed || record.override !== undefined;
}

/**
 * Gate decisions in Redis: the latest record per digest, every record ever made in a history list,
 * a sorted set of every gated digest (the rescan pages through it), and a pub/sub channel that
 * tells admission servers to drop what they cached for a digest.
 */
export class DecisionStore {
  readonly channel: string;

  constructor(
    private readonly redis: Redis,
    private readonly prefix = 'dchain:policy:',
  ) {
    this.channel = `${prefix}invalidate`;
  }

  /** Records a new gate decision for the image, over whatever was recorded for it before. */
  async record(facts: ImageFacts, decision: Decision, now = new Date()): Promise<DecisionRecord> {
    // A new gate decision enters the store here: validated before it is written.
    const record = decisionRecordSchema.parse({ decision, facts, recordedAt: now.toISOString() });
    await this.write(decision.image.digest, { kind: 'decision', reason: 'decision', record });
    return record;
  }

  /** Records a break-glass override on top of the latest decision for `digest`. */
  async recordOverride(digest: string, override: Omit<Override, 'at'>, now = new Date()): Promise<DecisionRecord> {
    // Compare-and-set: a decision recorded meanwhile (a rescan) gets the override instead of being overwritten.
    let same: DecisionRecord | undefined;
    const { written } = await this.update(digest, (latest) => {
      if (!latest) throw new ChainError('NOT_FOUND', `no gate decision recorded for ${digest}; nothing to override`);
      // One record per override: a retried activity of the same run finds its own override and writes nothing.
      if (
        latest.override &&
        latest.override.workflowId === override.workflowId &&
        latest.override.actor === override.actor &&
        latest.override.reason === override.reason
      ) {
        same = latest;
        return undefined;
      }
      return { kind: 'decision', reason: 'override', record: { ...latest, recordedAt: now.toISOString(), override: { ...override, at: now.toISOString() } } };
    });
    return same ?? written!.record;
  }

  async latest(digest: string): Promise<DecisionRecord | undefined> {
    return (await this.readLatest(digest, 'whole')).read?.record;
  }

  /** Every record for `digest`, newest first. */
  async history(digest: string, limit = 100): Promise<DecisionRecord[]> {
    const raws = await this.redis.lrange(this.historyKey(digest), 0, limit - 1);
    const values = raws.map((raw) => parseJson(raw, digest));
    // Records written since items had a table of their own list their findings and violations by id.
    const lists = values.map((value) => historyItemIds(value, digest));
    const items = await this.fetchItems(lists.flatMap((l) => (l ? [...l.findings, ...l.violations] : [])));
    return values.map((value, i) => {
      const l = lists[i];
      if (!l) return this.parseRecord(value, digest);
      const { itemIds: _, ...record } = value as { itemIds: true; facts: object; decision: object };
      const resolve = (ids: string[]) => {
        try {
          return itemsOf(ids, items);
        } catch (cause) {
          throw unreadable(digest, cause);
        }
      };
      return this.parseRecord(
        { ...record, facts: { ...record.facts, findings: resolve(l.findings) }, decision: { ...record.decision, violations: resolve(l.violations) } },
        digest,
      );
    });
  }

  /**
   * Digests with a recorded decision, in lexicographic order, `limit` at a time after the cursor
   * `after` (exclusive). Pages are stable while digests are added: each one is listed once.
   * Decisions recorded before the index existed are listed once `backfillIndex` has run.
   */
  async listDigests(options: { after?: string; limit: number }): Promise<DigestPage> {
    if (!Number.isInteger(options.limit) || options.limit < 1) throw new ChainError('BAD_INPUT', `page size must be a positive integer, got ${options.limit}`);
    const from = options.after === undefined ? '-' : `(${options.after}`;
    const found = await this.redis.zrangebylex(this.indexKey(), from, '+', 'LIMIT', 0, options.limit + 1);
    const digests = found.slice(0, options.limit);
    return found.length > options.limit ? { digests, next: digests[digests.length - 1]! } : { digests };
  }

  /**
   * Replaces the latest record of `digest` with what `change` makes of it, atomically: if another
   * writer got in between the read and the write, `change` runs again on the newer record.
   * `change` returns undefined to leave the record alone. Returns the record `change` saw and the update written.
   * The record's findings are read when `change` first asks for them; `stored` (absent for a record
   * stored before findings had a key of their own) says what they are without reading them, and a
   * refresh that keeps them (withFindingsOf) writes only the record's head.
   * `findingsOnDemand` (the fleet rescan): the head is read without the findings (about 100 KB an
   * image, mostly never needed: the digests tell) and the decision's violations, which are fetched
   * only when `change` reads them (it then runs again on the same record, so it must be pure) or a
   * write needs them; the record returned as `previous` can then be read only for its head (a change
   * that leaves its caller the decision's violations to read reads them itself).
   */
  async update(
    digest: string,
    change: (latest: DecisionRecord | undefined, stored: StoredFindings | undefined) => DecisionUpdate | undefined,
    options: { findingsOnDemand?: boolean } = {},
  ): Promise<{ previous: DecisionRecord | undefined; written: DecisionUpdate | undefined }> {
    for (let attempt = 1; attempt <= UPDATE_ATTEMPTS; attempt++) {
      const { raw, read } = await this.readLatest(digest, options.findingsOnDemand ? 'on-demand' : 'lazy');
      const previous = read?.record;
      const stored = read?.stored;
      const told = stored && {
        digest: stored.findingsDigest,
        ...(stored.findingsCompareDigest === undefined ? {} : { compareDigest: stored.findingsCompareDigest }),
      };
      let next: DecisionUpdate | undefined;
      try {
        try {
          next = change(previous, told);
        } catch (err) {
          if (!(err instanceof PartNotFetched) || !stored) throw err;
          // The head and its parts fetched apart: fetch checks the head is still the one read, and the
          // compare-and-set on the head (which names its parts by digest) refuses a write made from a
          // record replaced since.
          await stored.fetch();
          next = change(previous, told);
        }
        if (!next) return { previous, written: undefined };
        if (next.record.decision.image.digest !== digest) {
          throw new ChainError('BAD_INPUT', `a record of ${next.record.decision.image.digest} cannot replace the decision of ${digest}`);
        }
        if (await this.write(digest, next, raw === undefined ? '' : createHash('sha1').update(raw).digest('hex'), read?.stored))
          return { previous, written: next };
      } catch (err) {
        if (!(err instanceof RecordReplaced)) throw err;
      }
    }
    throw new ChainError('TRANSIENT', `the decision of ${digest} changed under ${UPDATE_ATTEMPTS} updates in a row`);
  }

  /**
   * Records that subscribers heard of the change the rescan `workflowId` found for `digest`
   * (compare-and-set on the latest record; nothing to do when another decision replaced it since).
   * Returns true when the mark was set by this call.
   */
  async markRescanNotified(digest: string, workflowId: string): Promise<boolean> {
    const { written } = await this.update(digest, (latest) => {
      const mark = latest?.lastRescan;
      if (!latest || !mark || mark.workflowId !== workflowId || mark.notified) return undefined;
      return { kind: 'refresh', record: { ...latest, lastRescan: { ...mark, notified: true } } };
    });
    return written !== undefined;
  }

  /** Tells every admission server to forget what it cached for `digest` (after a rescan or a signature). */
  async invalidate(digest: string, reason: InvalidationReason): Promise<void> {
    await this.redis.publish(this.channel, JSON.stringify({ digest, reason }));
  }

  /**
   * Calls `onInvalidate` for every invalidation published, on a dedicated connection. `onReset`
   * runs after the subscription (re)connects, when messages may have been missed; `onDown` when it
   * drops (it reconnects by itself). With `background`, returns at once even while Redis is
   * unreachable (the admission webhook starts and refuses images, naming the outage, until it is back).
   */
  async subscribe(
    handlers: { onInvalidate: (digest: string, reason: string) => void; onReset?: () => void; onDown?: () => void },
    options: { background?: boolean } = {},
  ): Promise<() => Promise<void>> {
    // Its own offline queue: the command connection may fail fast, the subscription waits for Redis.
    const subscriber = this.redis.duplicate({ enableOfflineQueue: true, maxRetriesPerRequest: null, lazyConnect: false });
    subscriber.on('error', () => undefined); // reported through onDown; ioredis keeps reconnecting
    subscriber.on('message', (channel: string, message: string) => {
      if (channel !== this.channel) return;
      try {
        const { digest, reason } = JSON.parse(message) as { digest: unknown; reason: unknown };
        if (typeof digest === 'string') handlers.onInvalidate(digest, String(reason));
      } catch {
        handlers.onReset?.(); // an unreadable message may have concerned anything
      }
    });
    // Also on the first connection: it may follow an outage at start-up.
    subscriber.on('ready', () => handlers.onReset?.());
    let closing = false;
    subscriber.on('close', () => {
      if (!closing) handlers.onDown?.();
    });
    const subscribed = subscriber.subscribe(this.channel);
    if (options.background) subscribed.catch(() => handlers.onDown?.());
    else await subscribed;
    return async () => {
      closing = true;
      await subscriber.quit().catch(() => subscriber.disconnect());
    };
  }

  /**
   * Writes `update` as the latest record of `digest` if the current one is the record whose SHA-1
   * (hex) is `expected` ('' = none; omitted = whatever it is); a decision also joins the history and tells admission servers.
   * Returns false when the current record was another. Not validated again: a record is parsed where
   * it leaves Redis (parse) and where a new gate decision enters (record); an update is made from a
   * parsed record by typed code.
   * The latest record is stored as its head (everything but the findings, with findingFactsDigest of
   * them) and its findings under a key of their own: a fleet rescan refreshes thousands of records
   * whose findings did not change, about 100–250 KB each of which the findings are two thirds, and a
   * refresh that kept them (withFindingsOf, unread) writes the head alone. The head names its findings
   * by their digest, so the compare-and-set on the head covers them. The decision's violations are
   * kept the same way, named by violationsDigest: a denied image's head was otherwise mostly its
   * violations (about 150 an image in the rescan bench, 75 KB), parsed, validated and written back by
   * every refresh that keeps the decision as it is. Both keys hold the ids of their items, each item
   * (a finding fact, a violation) stored once in the store's table of items by the SHA-256 of its JSON
   * (stored-items.ts): about 30 KB a record rather than 230 KB, and an item the store is known to hold
   * is named without being sent. The history keeps whole records, their findings and violations by id.
   */
  private async write(digest: string, update: DecisionUpdate, expected?: string, stored?: LazyParts): Promise<boolean> {
    const { record } = update;
    // Kept only as read in this very attempt: the compare-and-set on the head read then says they are still stored.
    const ownFindings = stored !== undefined && Object.getOwnPropertyDescriptor(record.facts, 'findings')?.get === stored.accessor;
    // Parts stored before items had a table of their own are written again, as ids, by the record's next write.
    const keep = update.kind === 'refresh' && ownFindings && stored.itemized;
    const ownViolations =
      stored?.violations !== undefined && Object.getOwnPropertyDescriptor(record.decision, 'violations')?.get === stored.violations.accessor;
    const keepViolations = update.kind === 'refresh' && ownViolations && stored.itemized;
    // A new decision on the record's own findings or violations (an override) writes them: fetched if the head was read without them.
    if ((ownFindings && !keep) || (ownViolations && !keepViolations)) await stored!.fetch();
    // Sent as strings, not Buffers: a record's Buffers are external memory, which started full
    // collections of the worker's heap of OSV data and match cache.
    const findings = keep ? undefined : itemList(record.facts.findings);
    // Digests are remembered per findings array: those regate compared with are not computed again.
    const findingsDigest = keep ? stored.findingsDigest : findingFactsDigest(record.facts.findings);
    const compareDigest = keep ? stored.findingsCompareDigest : findingsCompareDigest(record.facts.findings);
    const violations = keepViolations ? undefined : itemList(record.decision.violations);
    const violationsDigest = keepViolations ? stored!.violations!.digest : violationsDigestOf(violations!.idsJson);
    const facts = factsWithout(record.facts);
    const decisionHead = decisionWithoutViolations(record.decision);
    const head = JSON.stringify({
      ...record,
      decision: decisionHead,
      facts,
      findingsDigest,
      ...(compareDigest === undefined ? {} : { findingsCompareDigest: compareDigest }),
      violationsDigest,
      itemIds: true,
    });
    const decision = update.kind === 'decision';
    const message = decision ? JSON.stringify({ digest, reason: update.reason }) : '';
    const args = [
      expected ?? '',
      head,
      digest,
      decision ? wholeRecordMarked(record, decisionHead, facts) : '',
      this.channel,
      message,
      expected === undefined ? '1' : '0',
      findings?.idsJson ?? '',
      violations?.idsJson ?? '',
      MARKED_VIOLATIONS,
      MARKED_FINDINGS,
    ];
    // Items this store is known to hold are named, not sent; the script checks that it holds them.
    for (let all = false; ; all = true) {
      const known = knownItems.of(this.redis, this.prefix);
      const sent = itemsToSend([findings, violations], all ? undefined : known);
      const done = await runLuaScript(this.redis, COMPARE_AND_WRITE, this.writeKeys(digest), [...args, ...sent.flatMap((i) => [i.id, i.json])]);
      if (!Array.isArray(done)) {
        // Not written (another record is the latest now): neither were the items sent.
        if (done === 1) known.add(sent);
        return done === 1;
      }
      // Items the store was known to hold are gone (a flushed or failed-over Redis): forget them all, send every one.
      knownItems.forget(this.redis, this.prefix);
      if (all) throw new ChainError('INTERNAL', `the decision store of ${digest} lost items sent with the very write that named them`);
    }
  }

  /**
   * Adds decisions recorded before the digest index existed to it, by a SCAN over the decision
   * keys, once: a marker key says it was done (the Temporal worker runs it when it starts).
   * Idempotent, and safe beside writers: they add their digest themselves. Returns false when the
   * marker says it ran already, with the digests it found otherwise.
   */
  async backfillIndex(): Promise<{ ran: boolean; digests: number }> {
    if ((await this.redis.exists(this.indexedKey())) === 1) return { ran: false, digests: 0 };
    const keyPrefix = this.latestKey('');
    let cursor = '0';
    let found = 0;
    do {
      const [nextCursor, keys] = await this.redis.scan(cursor, 'MATCH', `${keyPrefix}*`, 'COUNT', SCAN_COUNT);
      cursor = nextCursor;
      const digests = keys.map((k) => k.slice(keyPrefix.length)).filter((d) => d.length > 0);
      if (digests.length) await this.redis.zadd(this.indexKey(), ...digests.flatMap((d) => [0, d]));
      found += digests.length;
    } while (cursor !== '0');
    await this.redis.set(this.indexedKey(), new Date().toISOString());
    return { ran: true, digests: found };
  }

  private parseRecord(value: unknown, digest: string): DecisionRecord {
    try {
      return decisionRecordSchema.parse(value);
    } catch (cause) {
      throw unreadable(digest, cause);
    }
  }

  /**
   * The latest record's head (its bytes: what a compare-and-set compares) and the record read from it
   * and its parts (one MGET), or, `on-demand`, from the head alone (the parts fetched by LazyParts.fetch).
   */
  private async readLatest(
    digest: string,
    mode: 'whole' | 'lazy' | 'on-demand',
  ): Promise<{ raw?: string; read?: { record: DecisionRecord; stored?: LazyParts } }> {
    if (mode === 'on-demand') {
      const raw = await this.redis.get(this.latestKey(digest));
      if (raw === null) return {};
      // A record stored whole holds its findings in the head: read as it is.
      return { raw, read: this.parseLatest(raw, undefined, digest) };
    }
    const [raw, findings, violations] = await this.redis.mget(this.latestKey(digest), this.findingsKey(digest), this.violationsKey(digest));
    if (raw === null || raw === undefined) return {};
    const read = this.parseLatest(raw, { findings: findings ?? null, violations: violations ?? null }, digest);
    // The parts' items too (the parts are parsed when first read): a record read so can be read whole after update.
    await read.stored?.fetch();
    if (mode === 'lazy' || !read.stored) return { raw, read };
    // Whole: the accessors read once, into a record of plain fields.
    const { record } = read;
    return { raw, read: { record: { ...record, decision: { ...record.decision }, facts: { ...record.facts } } } };
  }

  /**
   * The latest record from its head and parts (a record stored whole, before findings had a key of
   * their own, is read as it is; a head written before violations had one holds them), the parts
   * parsed when first read. `fetched` undefined (on demand): the parts are fetched then too.
   */
  private parseLatest(
    head: string,
    fetched: { findings: string | null; violations: string | null } | undefined,
    digest: string,
  ): { record: DecisionRecord; stored?: LazyParts } {
    const value = parseJson(head, digest);
    const split = typeof value === 'object' && value !== null && 'findingsDigest' in value;
    if (!split) return { record: this.parseRecord(value, digest) };
    const apart = 'violationsDigest' in (value as object);
    let parsed: z.infer<typeof storedHeadSchema> | z.infer<typeof splitHeadSchema>;
    try {
      parsed = (apart ? splitHeadSchema : storedHeadSchema).parse(value);
    } catch (cause) {
      throw unreadable(digest, cause);
    }
    const {
      findingsDigest,
      findingsCompareDigest,
      violationsDigest: named,
      itemIds,
      ...record
    } = parsed as z.infer<typeof storedHeadSchema> & { violationsDigest?: string; itemIds?: true };
    const itemized = itemIds === true;
    const findings = new StoredPart('findings', this.findingsKey(digest), digest, fetched?.findings, itemized, (items) => storedFindingsSchema.parse(items));
    const violations =
      named === undefined
        ? undefined
        : new StoredPart(
            'violations',
            this.violationsKey(digest),
            digest,
            fetched?.violations,
            itemized,
            (items) => storedViolationsSchema.parse(items),
            // Written with the head in one script: another digest is a damaged store, never a race (fetch checks the head).
            (json) => {
              if (violationsDigestOf(json) !== named) throw new Error(`its violations are not the ones its head names (${named})`);
            },
          );
    // Missing parts fail at once when read with the head.
    findings.checkPresent();
    violations?.checkPresent();
    Object.defineProperty(record.facts, 'findings', { get: findings.read, enumerable: true, configurable: true });
    if (violations) Object.defineProperty(record.decision, 'violations', { get: violations.read, enumerable: true, configurable: true });
    const parts = violations ? [findings, violations] : [findings];
    return {
      record: record as DecisionRecord,
      stored: {
        itemized,
        accessor: findings.read,
        findingsDigest,
        ...(findingsCompareDigest === undefined ? {} : { findingsCompareDigest }),
        ...(violations && named !== undefined ? { violations: { accessor: violations.read, digest: named } } : {}),
        fetch: async () => {
          const due = parts.filter((p) => p.json === undefined);
          if (due.length) {
            // With the head again: parts fetched after it was replaced would belong to another record.
            const [now, ...got] = await this.redis.mget(this.latestKey(digest), ...due.map((p) => p.key));
            if (now !== head) throw new RecordReplaced();
            due.forEach((p, i) => (p.json = got[i] ?? null));
          }
          const unresolved = parts.filter((p) => p.itemized && p.json !== null && p.items === undefined);
          if (!unresolved.length) return;
          // Items are never changed or removed: read after the parts, they are the ones the parts name.
          // A part that cannot be read fails when it is read (a refresh that keeps it never does).
          const items = await this.fetchItems(unresolved.flatMap((p) => p.idsOrNone()));
          for (const p of unresolved) p.items = items;
        },
      },
    };
  }

  /**
   * The JSON of the items `ids` name (one HMGET), each checked against its id: an item the table does
   * not hold, or whose text is not the one its id names, is an Error (its record is unreadable).
   */
  private async fetchItems(ids: readonly string[]): Promise<Items> {
    const unique = [...new Set(ids)];
    const items: Items = new Map();
    if (!unique.length) return items;
    const got = await this.redis.hmget(this.itemsKey(), ...unique);
    unique.forEach((id, i) => {
      const json = got[i];
      if (json === null || json === undefined) items.set(id, new Error(`item ${id} is missing from ${this.itemsKey()}`));
      else if (itemIdOf(json) !== id) items.set(id, new Error(`item ${id} does not hold the text its id names`));
      else items.set(id, json);
    });
    return items;
  }

  private latestKey(digest: string): string {
    return `${this.prefix}decision:${digest}`;
  }

  private writeKeys(digest: string): string[] {
    return [this.latestKey(digest), this.historyKey(digest), this.indexKey(), this.findingsKey(digest), this.violationsKey(digest), this.itemsKey()];
  }

  /** The table of items: a hash of each item's JSON by its id, shared by every record (stored-items.ts). */
  private itemsKey(): string {
    return `${this.prefix}items`;
  }

  private findingsKey(digest: string): string {
    return `${this.prefix}findings:${digest}`;
  }

  private violationsKey(digest: string): string {
    return `${this.prefix}violations:${digest}`;
  }

  private historyKey(digest: string): string {
    return `${this.prefix}history:${digest}`;
  }

  private indexKey(): string {
    return `${this.prefix}digests`;
  }

  private indexedKey(): string {
    return `${this.prefix}digests:indexed`;
  }
}

/** Stand for the findings and the violations in a record serialized without them: strings no record holds (a random suffix). */
const MARK = randomUUID();
const FINDINGS_MARK = `\u0000findings:${MARK}`;
const VIOLATIONS_MARK = `\u0000violations:${MARK}`;

/** The marks as they stand in the JSON of a record serialized with them. */
const MARKED_VIOLATIONS = JSON.stringify(VIOLATIONS_MARK);
const MARKED_FINDINGS = JSON.stringify(FINDINGS_MARK);

/**
 * The whole record's JSON for the history with marks where its violations and findings stand: the
 * write script splices in their JSON, sent once for their own keys, rather than receiving them twice
 * (a new decision's findings and violations are most of what it writes).
 */
function wholeRecordMarked(record: DecisionRecord, decision: object, facts: object): string {
  return JSON.stringify({ ...record, decision: { ...decision, violations: VIOLATIONS_MARK }, facts: { ...facts, findings: FINDINGS_MARK }, itemIds: true });
}

/** The decision's fields but its violations, which are not read (a stored record's are read only when asked for). */
function decisionWithoutViolations(decision: Decision): Omit<Decision, 'violations'> {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(decision)) if (key !== 'violations') out[key] = (decision as Record<string, unknown>)[key];
  return out as Omit<Decision, 'violations'>;
}

/**
 * The items a store's table is known to hold (written or checked by a write there), one per Redis
 * connection and prefix: every store of a worker on its connection shares it. Replaced when the table
 * turns out to have lost some. Items are marked with it (StoredItem.heldBy), which is what a fleet
 * rescan's writes look at: a delta's decisions name about 250,000 items, mostly the same objects, and a
 * lookup of each id in a set of hundreds of thousands cost about 0.2 s a delta (profiled). The ids are for
 * items held but met as other objects (a new gate decision's facts are parsed anew), and bounded (0.5 %
 * of the heap limit; past it they start over, and those items are sent once more).
 */
class KnownItems {
  private readonly max = heapBound({ share: 0.005, entryBytes: KNOWN_ID_BYTES, min: 50_000, max: 5_000_000 });
  private ids = new Set<string>();

  has(item: StoredItem): boolean {
    if (item.heldBy === this) return true;
    if (!this.ids.has(item.id)) return false;
    item.heldBy = this;
    return true;
  }

  /** Marks what a write sent as held. */
  add(items: readonly StoredItem[]): void {
    if (this.ids.size + items.length > this.max) this.ids = new Set();
    for (const item of items) {
      this.ids.add(item.id);
      item.heldBy = this;
    }
  }
}

/** A known item's id costs about this many bytes of heap (a base64url SHA-256 in a Set). */
const KNOWN_ID_BYTES = 120;

/** One per Redis connection and prefix: a worker's stores share what they know the table holds. */
const knownItems = perConnection(() => new KnownItems());

/** The items of `lists` to send with a write, each once: those `known` does not hold (all without it). */
function itemsToSend(lists: ReadonlyArray<ItemList | undefined>, known?: KnownItems): StoredItem[] {
  const out: StoredItem[] = [];
  const sent = new Set<string>();
  for (const list of lists)
    for (const item of list?.items ?? []) {
      if (known?.has(item) || sent.has(item.id)) continue;
      sent.add(item.id);
      out.push(item);
    }
  return out;
}

/** What a head names its violations by: the SHA-256 of their stored JSON, checked when they are read. */
function violationsDigestOf(json: string): string {
  return `sha256:${createHash('sha256').update(json).digest('hex')}`;
}

/**
 * A part of the latest record stored under a key of its own (its findings, its violations): its JSON
 * as fetched (undefined = not yet, null = missing), which is the ids of its items when `itemized` (their
 * JSON set in `items` once fetched) and the items themselves before, parsed and validated when first read.
 */
class StoredPart<T> {
  private parsed: T | undefined;
  private listed: string[] | undefined;
  items: Items | undefined;

  constructor(
    private readonly name: string,
    readonly key: string,
    private readonly digest: string,
    public json: string | null | undefined,
    readonly itemized: boolean,
    private readonly parse: (items: unknown) => T,
    private readonly check?: (json: string) => void,
  ) {}

  /** The ids of its items, in order (an itemized part whose JSON is fetched). */
  ids(): string[] {
    if (this.listed !== undefined) return this.listed;
    this.checkPresent();
    try {
      this.check?.(this.json!);
      return (this.listed = itemIdsSchema.parse(JSON.parse(this.json!)));
    } catch (cause) {
      throw unreadable(this.digest, cause);
    }
  }

  /** Its ids, or none when they cannot be read (read then says why). */
  idsOrNone(): string[] {
    try {
      return this.ids();
    } catch {
      return [];
    }
  }

  /** The part, parsed; the record's accessor for it (by identity: write knows its own parts by it). */
  readonly read = (): T => {
    if (this.parsed !== undefined) return this.parsed;
    if (this.json === undefined || (this.itemized && this.items === undefined)) throw new PartNotFetched(this.name);
    this.checkPresent();
    // ids() checks the list against its digest and says itself why it is unreadable.
    const ids = this.itemized ? this.ids() : undefined;
    try {
      if (ids) return (this.parsed = this.parse(itemsOf(ids, this.items!)));
      this.check?.(this.json!);
      return (this.parsed = this.parse(JSON.parse(this.json!)));
    } catch (cause) {
      throw unreadable(this.digest, cause);
    }
  };

  checkPresent(): void {
    if (this.json === null) throw unreadable(this.digest, new Error(`its ${this.name} (${this.key}) are missing`));
  }
}

/** What fetching a record's parts throws when its head was replaced since it was read: update reads it again. */
class RecordReplaced extends Error {
  constructor() {
    super('the decision record was replaced while its parts were fetched');
  }
}

/** Items' JSON by id as fetched, or why one cannot be read (missing, or not the text its id names). */
type Items = Map<string, string | Error>;

/** The items `ids` name, parsed, in order; throws what makes one unreadable. */
function itemsOf(ids: readonly string[], items: Items): unknown[] {
  return ids.map((id) => {
    const json = items.get(id);
    if (json === undefined) throw new Error(`item ${id} was not fetched`);
    if (json instanceof Error) throw json;
    return JSON.parse(json) as unknown;
  });
}

function parseJson(raw: string, digest: string): unknown {
  try {
    return JSON.parse(raw) as unknown;
  } catch (cause) {
    throw unreadable(digest, cause);
  }
}

const historyItemsSchema = z.object({
  itemIds: z.literal(true),
  facts: z.object({ findings: itemIdsSchema }),
  decision: z.object({ violations: itemIdsSchema }),
});

/** The ids a history record lists its findings and violations by; undefined for a record that holds them (written before). */
function historyItemIds(value: unknown, digest: string): { findings: string[]; violations: string[] } | undefined {
  if (typeof value !== 'object' || value === null || !('itemIds' in value)) return undefined;
  try {
    const { facts, decision } = historyItemsSchema.parse(value);
    return { findings: facts.findings, violations: decision.violations };
  } catch (cause) {
    throw unreadable(digest, cause);
  }
}

/** Retrying reads the same bytes: fail for good, and say which digest needs a new gate decision. */
function unreadable(digest: string, cause: unknown): ChainError {
  return new ChainError('BAD_INPUT', `stored decision for ${digest} is unreadable: ${(cause as Error).message}`, { cause, retryable: false });
}
