/** Where SBOMs are kept for rescans, keyed by image digest: Redis in the chain, memory in tests and the CLI. */
import { type Redis } from 'ioredis';
import { z } from 'zod';
import { ChainError } from '../../errors';
import { type SbomRef } from '../types';
import { cycloneDxSchema, type StoredScan } from './cyclonedx';
import { SHA256_DIGEST } from '../digest';
import { decodeRescanView, encodeRescanView, type RescanView, rescanViewOf } from './rescan-view';

/** One image's entry of a batched read: stored, absent (undefined), or why it cannot be read. */
export type StoredEntry<T> = () => T | undefined | ChainError;

export interface SbomStore {
  /** Stores the SBOM and its rescan view together: both or neither. */
  put(scan: StoredScan): Promise<SbomRef>;
  get(digest: string): Promise<StoredScan | undefined>;
  /**
   * What the fleet rescan needs of many images: each one's rescan view, or, for an SBOM stored
   * without one, the view read from the SBOM (and stored, so the next rescan reads the view).
   */
  getViews(digests: readonly string[]): Promise<Map<string, StoredEntry<RescanView>>>;
  /** Where the SBOM of `digest` is (or would be) kept. */
  ref(digest: string): SbomRef;
}

const storedScanSchema = z.looseObject({
  registry: z.string(),
  repository: z.string(),
  digest: z.string(),
  scannedAt: z.string(),
  os: z.looseObject({ id: z.string(), versionId: z.string(), prettyName: z.string().optional() }).optional(),
  hygiene: z.looseObject({}),
  sbom: cycloneDxSchema,
});

function parseStored(text: string, key: string): StoredScan {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new ChainError('INTERNAL', `stored SBOM ${key} is not JSON`, { cause: err });
  }
  const parsed = storedScanSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ChainError('INTERNAL', `stored SBOM ${key} is malformed: ${issue ? `${issue.path.join('.')}: ${issue.message}` : 'unknown shape'}`);
  }
  return parsed.data as unknown as StoredScan;
}

function checkDigest(digest: string): void {
  if (!SHA256_DIGEST.test(digest)) throw new ChainError('BAD_INPUT', `"${digest}" is not a sha256 image digest`);
}

export class RedisSbomStore implements SbomStore {
  constructor(
    private readonly redis: Redis,
    private readonly prefix = 'dchain:sbom:',
  ) {}

  async put(scan: StoredScan): Promise<SbomRef> {
    checkDigest(scan.digest);
    const ref = this.ref(scan.digest);
    // One transaction: a view without its SBOM (or an SBOM beside another scan's view) is never seen.
    const results = await this.redis
      .multi()
      .set(ref.key, JSON.stringify(scan))
      .set(this.viewKey(scan.digest), encodeRescanView(rescanViewOf(scan)))
      .exec();
    const failed = results?.find(([err]) => err)?.[0];
    if (!results || failed) throw new ChainError('TRANSIENT', `storing the SBOM of ${scan.digest} failed`, { cause: failed ?? undefined });
    return ref;
  }

  private sbomKey(digest: string): string {
    return `${this.prefix}${digest}`;
  }

  /** The view's key names its format: a new format reads as no view (the SBOM is read, the view written again). */
  private viewKey(digest: string): string {
    return `${this.prefix}${RESCAN_VIEW_KEY}${digest}`;
  }

  ref(digest: string): SbomRef {
    return { store: 'redis', key: this.sbomKey(digest), digest, format: 'cyclonedx-1.6' };
  }

  async get(digest: string): Promise<StoredScan | undefined> {
    checkDigest(digest);
    const key = this.sbomKey(digest);
    const text = await this.redis.get(key);
    return text === null ? undefined : parseStored(text, key);
  }

  /**
   * The SBOMs of many digests in one round trip (MGET), each read when its entry is called: stored,
   * absent (undefined), or the error that says why it cannot be read, so one bad record fails its
   * image, not the batch. Parsed one at a time, a page of 300 KB SBOMs is never all in memory at
   * once as objects (held together across the batch's awaits, they outlived the young generation and
   * made most of the rescan's garbage collection).
   */
  async getMany(digests: readonly string[]): Promise<Map<string, () => StoredScan | undefined | ChainError>> {
    const out = new Map<string, () => StoredScan | undefined | ChainError>();
    if (digests.length === 0) return out;
    for (const d of digests) checkDigest(d);
    const keys = digests.map((d) => this.sbomKey(d));
    const texts = await this.redis.mget(...keys);
    digests.forEach((digest, i) => {
      const text = texts[i] ?? null;
      out.set(digest, () => {
        try {
          return text === null ? undefined : parseStored(text, keys[i]!);
        } catch (err) {
          return err instanceof ChainError ? err : new ChainError('INTERNAL', `stored SBOM ${keys[i]!} is unreadable`, { cause: err });
        }
      });
    });
    return out;
  }

  /**
   * The rescan views of many digests in one round trip (MGET, with an EXISTS of each SBOM: a view is
   * only read beside its SBOM, so an image whose SBOM is gone stays unknown). Those stored before
   * views were: their SBOMs read in a second MGET, parsed one at a time (as getMany), and their views
   * written back (SET NX: a view a new scan stored meanwhile is kept), so this happens once per image.
   * A view that cannot be read is that image's error: the SBOM is not read in its place, as a view
   * that went wrong is a problem to see, not to hide.
   */
  async getViews(digests: readonly string[]): Promise<Map<string, StoredEntry<RescanView>>> {
    const out = new Map<string, StoredEntry<RescanView>>();
    if (digests.length === 0) return out;
    for (const d of digests) checkDigest(d);
    const keys = digests.map((d) => this.viewKey(d));
    const read = this.redis.pipeline().mget(...keys);
    for (const d of digests) read.exists(this.sbomKey(d));
    const results = (await read.exec()) ?? [];
    const failed = results.find(([err]) => err)?.[0];
    if (failed || results.length !== digests.length + 1) throw new ChainError('TRANSIENT', 'reading rescan views failed', { cause: failed ?? undefined });
    const texts = results[0]![1] as Array<string | null>;
    const stored = (i: number) => results[i + 1]![1] === 1;
    const missing = digests.filter((_, i) => stored(i) && (texts[i] ?? null) === null);
    const fallback = await viewsFromSboms(
      missing,
      (ds) => this.redis.mget(...ds.map((d) => this.sbomKey(d))),
      (d) => this.sbomKey(d),
    );
    if (fallback.backfill.length) {
      const pipeline = this.redis.pipeline();
      for (const { digest, text } of fallback.backfill) pipeline.set(this.viewKey(digest), text, 'NX');
      const written = await pipeline.exec();
      const failed = written?.find(([err]) => err)?.[0];
      if (failed) throw new ChainError('TRANSIENT', 'storing rescan views failed', { cause: failed });
    }
    digests.forEach((digest, i) => {
      const text = texts[i] ?? null;
      out.set(digest, !stored(i) ? () => undefined : text === null ? fallback.entries.get(digest)! : () => readView(text, keys[i]!, digest));
    });
    return out;
  }
}

/** Part of a view's key: the format it is written in (see RESCAN_VIEW_FORMAT). */
const RESCAN_VIEW_KEY = 'rescan-view/1:';

function readView(text: string, key: string, digest: string): RescanView | ChainError {
  try {
    return decodeRescanView(text, key, digest);
  } catch (err) {
    return err instanceof ChainError ? err : new ChainError('INTERNAL', `rescan view ${key} is unreadable`, { cause: err });
  }
}

/**
 * The views of images stored without one, read from their SBOMs, and the encoded views to store.
 * Parsed one at a time: only the (much smaller) views outlive the loop.
 */
async function viewsFromSboms(
  digests: readonly string[],
  read: (digests: readonly string[]) => Promise<Array<string | null | undefined>>,
  keyOf: (digest: string) => string,
): Promise<{ entries: Map<string, StoredEntry<RescanView>>; backfill: Array<{ digest: string; text: string }> }> {
  const entries = new Map<string, StoredEntry<RescanView>>();
  const backfill: Array<{ digest: string; text: string }> = [];
  if (digests.length === 0) return { entries, backfill };
  const texts = await read(digests);
  digests.forEach((digest, i) => {
    const text = texts[i] ?? null;
    if (text === null) {
      entries.set(digest, () => undefined);
      return;
    }
    let entry: RescanView | ChainError;
    try {
      const view = rescanViewOf(parseStored(text, keyOf(digest)));
      backfill.push({ digest, text: encodeRescanView(view) });
      entry = view;
    } catch (err) {
      entry = err instanceof ChainError ? err : new ChainError('INTERNAL', `stored SBOM ${keyOf(digest)} is unreadable`, { cause: err });
    }
    entries.set(digest, () => entry);
  });
  return { entries, backfill };
}

export class MemorySbomStore implements SbomStore {
  private readonly scans = new Map<string, string>();
  /** The encoded rescan views, by digest (as the Redis store's view keys). */
  private readonly views = new Map<string, string>();

  put(scan: StoredScan): Promise<SbomRef> {
    checkDigest(scan.digest);
    this.scans.set(scan.digest, JSON.stringify(scan));
    this.views.set(scan.digest, encodeRescanView(rescanViewOf(scan)));
    return Promise.resolve(this.ref(scan.digest));
  }

  /** As RedisSbomStore.getViews: the view, or the SBOM read for one stored without it (and the view kept). */
  async getViews(digests: readonly string[]): Promise<Map<string, StoredEntry<RescanView>>> {
    for (const d of digests) checkDigest(d);
    const missing = digests.filter((d) => !this.views.has(d));
    const fallback = await viewsFromSboms(
      missing,
      (ds) => Promise.resolve(ds.map((d) => this.scans.get(d))),
      (d) => d,
    );
    for (const { digest, text } of fallback.backfill) if (!this.views.has(digest)) this.views.set(digest, text);
    const out = new Map<string, StoredEntry<RescanView>>();
    for (const digest of digests) {
      const entry = fallback.entries.get(digest);
      const text = this.views.get(digest)!;
      out.set(digest, entry ?? (() => readView(text, `view ${digest}`, digest)));
    }
    return out;
  }

  /** Drops the view of `digest` (as an SBOM stored before views were). */
  forgetView(digest: string): void {
    this.views.delete(digest);
  }

  ref(digest: string): SbomRef {
    return { store: 'memory', key: digest, digest, format: 'cyclonedx-1.6' };
  }

  get(digest: string): Promise<StoredScan | undefined> {
    const text = this.scans.get(digest);
    return Promise.resolve(text === undefined ? undefined : parseStored(text, digest));
  }
}
