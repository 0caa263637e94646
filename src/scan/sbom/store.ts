/** Where SBOMs are kept for rescans, keyed by image digest: Redis in the chain, memory in tests and the CLI. */
import { type Redis } from 'ioredis';
import { z } from 'zod';
import { ChainError } from '../../errors';
import { type SbomRef } from '../types';
import { cycloneDxSchema, type StoredScan } from './cyclonedx';
import { SHA256_DIGEST } from '../digest';
import { type LuaScript, luaScriptFile, perConnection, runLuaScript } from '../../redis';
import { MemoryPackageTable, type PackageTable, RedisPackageTable, TableCache } from './package-table';
import { encodeRescanView, idsOf, packageTuple, parseRescanView, type ParsedView, resolveRescanView, type RescanView, rescanViewOf } from './rescan-view';

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
  private readonly table: RedisPackageTable;
  private readonly known: TableCache;

  constructor(
    private readonly redis: Redis,
    private readonly prefix = 'dchain:sbom:',
  ) {
    const tableKey = `${prefix}packages`;
    this.table = new RedisPackageTable(redis, tableKey);
    this.known = tableCaches.of(redis, tableKey);
  }

  async put(scan: StoredScan): Promise<SbomRef> {
    checkDigest(scan.digest);
    const ref = this.ref(scan.digest);
    const view = rescanViewOf(scan);
    // Numbered first: a number, once handed out, stays the package's, so a write that fails after leaves nothing wrong.
    const encoded = encodeRescanView(view, await this.table.ids(view.packages.map(packageTuple)));
    // One transaction: a view without its SBOM (or an SBOM beside another scan's view) is never seen.
    const results = await this.redis
      .multi()
      .set(ref.key, JSON.stringify(scan))
      .set(this.viewKey(scan.digest), encoded)
      .del(this.earlierViewKey(scan.digest))
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

  /** Where the earlier format kept the view: dropped when the view is written in this one. */
  private earlierViewKey(digest: string): string {
    return `${this.prefix}${EARLIER_VIEW_KEY}${digest}`;
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
   * The rescan views of many digests in one round trip (MGET, with an EXISTS of each SBOM, as a view
   * is only read beside its SBOM, so an image whose SBOM is gone stays unknown; and the package table's
   * epoch), then the packages they name that this process has not read yet (one HMGET). Those stored
   * without a view (before views, or in an earlier format), or with a view of a package table that
   * started over since: their SBOMs read in a second MGET, parsed one at a time (as getMany), and their
   * views written back (unless a scan stored another view meanwhile), so this happens once per image.
   * A view that cannot be read is that image's error: the SBOM is not read in its place, as a view that
   * went wrong is a problem to see, not to hide.
   */
  async getViews(digests: readonly string[]): Promise<Map<string, StoredEntry<RescanView>>> {
    if (digests.length === 0) return new Map();
    for (const d of digests) checkDigest(d);
    const keys = digests.map((d) => this.viewKey(d));
    const read = this.redis.pipeline().mget(...keys);
    for (const d of digests) read.exists(this.sbomKey(d));
    read.hget(`${this.prefix}packages`, 'epoch');
    const results = (await read.exec()) ?? [];
    const failed = results.find(([err]) => err)?.[0];
    if (failed || results.length !== digests.length + 2) throw new ChainError('TRANSIENT', 'reading rescan views failed', { cause: failed ?? undefined });
    const texts = results[0]![1] as Array<string | null>;
    const epoch = results[digests.length + 1]![1] as string | null;
    return viewEntries(
      digests,
      keys,
      texts,
      (i) => results[i + 1]![1] === 1,
      epoch,
      this.known,
      async (missing) => {
        const fallback = await viewsFromSboms(
          missing.map((m) => m.digest),
          (ds) => this.redis.mget(...ds.map((d) => this.sbomKey(d))),
          (d) => this.sbomKey(d),
          this.table,
        );
        const was = new Map(missing.map((m) => [m.digest, m.was]));
        await Promise.all(
          fallback.backfill.map(({ digest, text }) =>
            runLuaScript(this.redis, BACKFILL(), [this.viewKey(digest), this.earlierViewKey(digest)], [text, was.get(digest) ?? '']).catch((err: unknown) => {
              throw new ChainError('TRANSIENT', 'storing rescan views failed', { cause: err });
            }),
          ),
        );
        return fallback.entries;
      },
    );
  }
}

/** Part of a view's key: the format it is written in (see RESCAN_VIEW_FORMAT). */
const RESCAN_VIEW_KEY = 'rescan-view/2:';
/** The same for the format before the package table (views holding their packages). */
const EARLIER_VIEW_KEY = 'rescan-view/1:';

/** Read on first use (as package-table.ts's script: the CLI's startup snapshot holds this module). */
let backfillScript: LuaScript | undefined;
const BACKFILL = () => (backfillScript ??= luaScriptFile(__dirname, 'rescan-view-backfill.lua'));

/** One TableCache per Redis connection and table: a worker's stores share what they read of the table. */
const tableCaches = perConnection((redis, key) => new TableCache(new RedisPackageTable(redis, key)));

/**
 * Each digest's entry from its view's text (null: none stored), `stored(i)` saying whether its SBOM
 * is: views parsed now, the packages they name loaded into `known` for the table's `epoch`, and the
 * views resolved with them. Views missing, or of another epoch of the table (it started
 * over: their numbers name other packages now), are read from their SBOMs by `fallback`, with the
 * text of the view that was read ('' = none).
 */
async function viewEntries(
  digests: readonly string[],
  keys: readonly string[],
  texts: ReadonlyArray<string | null>,
  stored: (i: number) => boolean,
  epoch: string | null,
  known: TableCache,
  fallback: (missing: Array<{ digest: string; was: string }>) => Promise<Map<string, StoredEntry<RescanView>>>,
): Promise<Map<string, StoredEntry<RescanView>>> {
  const parsed = new Map<string, ParsedView | ChainError>();
  const missing: Array<{ digest: string; was: string }> = [];
  const ids = new Set<number>();
  digests.forEach((digest, i) => {
    if (!stored(i)) return;
    const text = texts[i] ?? null;
    if (text === null) return void missing.push({ digest, was: '' });
    let view: ParsedView;
    try {
      view = parseRescanView(text, keys[i]!, digest);
    } catch (err) {
      parsed.set(digest, err instanceof ChainError ? err : new ChainError('INTERNAL', `rescan view ${keys[i]!} is unreadable`, { cause: err }));
      return;
    }
    if (view.table !== epoch) return void missing.push({ digest, was: text });
    for (const id of idsOf(view)) ids.add(id);
    parsed.set(digest, view);
  });
  await known.load(epoch, ids);
  // Resolved at once, before anything else runs: another read of the same cache (a batch beside this one) may
  // start it over (a new epoch, its bound), and the packages loaded for these views would be gone.
  const resolved = new Map<string, RescanView | ChainError>();
  for (const [digest, view] of parsed) {
    if (view instanceof ChainError) {
      resolved.set(digest, view);
      continue;
    }
    try {
      resolved.set(
        digest,
        resolveRescanView(view, (id) => known.get(id)),
      );
    } catch (err) {
      resolved.set(digest, err instanceof ChainError ? err : new ChainError('INTERNAL', `rescan view ${view.key} is unreadable`, { cause: err }));
    }
  }
  const fromSboms = await fallback(missing);
  const out = new Map<string, StoredEntry<RescanView>>();
  for (const digest of digests) {
    const view = resolved.get(digest);
    out.set(digest, view === undefined ? (fromSboms.get(digest) ?? (() => undefined)) : () => view);
  }
  return out;
}

/**
 * The views of images stored without one, read from their SBOMs, and the encoded views to store (their
 * packages numbered in `table`). Parsed one at a time: only the (much smaller) views outlive the loop.
 */
async function viewsFromSboms(
  digests: readonly string[],
  read: (digests: readonly string[]) => Promise<Array<string | null | undefined>>,
  keyOf: (digest: string) => string,
  table: PackageTable,
): Promise<{ entries: Map<string, StoredEntry<RescanView>>; backfill: Array<{ digest: string; text: string }> }> {
  const entries = new Map<string, StoredEntry<RescanView>>();
  const backfill: Array<{ digest: string; text: string }> = [];
  if (digests.length === 0) return { entries, backfill };
  const texts = await read(digests);
  for (const [i, digest] of digests.entries()) {
    const text = texts[i] ?? null;
    if (text === null) {
      entries.set(digest, () => undefined);
      continue;
    }
    let entry: RescanView | ChainError;
    try {
      entry = rescanViewOf(parseStored(text, keyOf(digest)));
    } catch (err) {
      entry = err instanceof ChainError ? err : new ChainError('INTERNAL', `stored SBOM ${keyOf(digest)} is unreadable`, { cause: err });
    }
    if (!(entry instanceof ChainError)) backfill.push({ digest, text: encodeRescanView(entry, await table.ids(entry.packages.map(packageTuple))) });
    const result = entry;
    entries.set(digest, () => result);
  }
  return { entries, backfill };
}

export class MemorySbomStore implements SbomStore {
  private readonly scans = new Map<string, string>();
  /** The encoded rescan views, by digest (as the Redis store's view keys). */
  private readonly views = new Map<string, string>();
  /** The package table the views name their packages in. */
  readonly table = new MemoryPackageTable();
  private readonly known = new TableCache(this.table);

  async put(scan: StoredScan): Promise<SbomRef> {
    checkDigest(scan.digest);
    const view = rescanViewOf(scan);
    const encoded = encodeRescanView(view, await this.table.ids(view.packages.map(packageTuple)));
    this.scans.set(scan.digest, JSON.stringify(scan));
    this.views.set(scan.digest, encoded);
    return this.ref(scan.digest);
  }

  /** As RedisSbomStore.getViews: the view, or the SBOM read for one stored without it (and the view kept). */
  async getViews(digests: readonly string[]): Promise<Map<string, StoredEntry<RescanView>>> {
    for (const d of digests) checkDigest(d);
    const texts = digests.map((d) => this.views.get(d) ?? null);
    return viewEntries(
      digests,
      digests.map((d) => `view ${d}`),
      texts,
      (i) => this.scans.has(digests[i]!),
      await this.table.epoch(),
      this.known,
      async (missing) => {
        const fallback = await viewsFromSboms(
          missing.map((m) => m.digest),
          (ds) => Promise.resolve(ds.map((d) => this.scans.get(d))),
          (d) => d,
          this.table,
        );
        const was = new Map(missing.map((m) => [m.digest, m.was]));
        for (const { digest, text } of fallback.backfill) if ((this.views.get(digest) ?? '') === was.get(digest)) this.views.set(digest, text);
        return fallback.entries;
      },
    );
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
