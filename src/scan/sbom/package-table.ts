/**
 * The fleet's package table: each distinct package (its text, packageTuple: every field a rescan view
 * reads but its layer and location) kept once, under a number, and the rescan views name their
 * packages by number (rescan-view.ts). Numbers are handed out by Redis in one script (the first
 * writer of a package gets it a number, every later one reads it back), so scans on any worker agree.
 *
 * The table is one hash with its epoch, a random name given when the table starts: a view records the
 * epoch its numbers are of. A table that was lost (a flushed Redis, an eviction) starts again with
 * another epoch and hands out the same numbers to other packages; a view of the old epoch is then read
 * as no view (its SBOM is read again), never with the new table's packages under its numbers.
 *
 * TableCache keeps the packages a worker has read, by number: a rescan reads each distinct package of
 * the fleet once, not once per image that holds it.
 */
import { createHash, randomUUID } from 'node:crypto';
import { type Redis } from 'ioredis';
import { ChainError } from '../../errors';
import { type LuaScript, luaScriptFile, runLuaScript } from '../../redis';
import { heapBound } from '../heap-bound';
import { type Package } from '../types';
import { decodeTablePackage } from './rescan-view';

export interface PackageTable {
  /** The table's epoch and the number of each package text (packageTuple), those the table lacks added. */
  ids(tuples: readonly string[]): Promise<{ epoch: string; ids: number[] }>;
  /** The table's epoch (null: no table) and the text of each number (null: not in the table). */
  tuples(ids: readonly number[]): Promise<{ epoch: string | null; tuples: Array<string | null> }>;
  /** The table's epoch (null: no table yet). */
  epoch(): Promise<string | null>;
}

/** Read on first use: the CLI's startup snapshot holds this module (the memory store) and cannot read files while it is built. */
let idsScript: LuaScript | undefined;
const IDS = () => (idsScript ??= luaScriptFile(__dirname, 'package-table-ids.lua'));

/** Package texts sent per script call: a scan's image holds up to a few thousand. */
const IDS_CHUNK = 1_000;

const contentHash = (tuple: string) => createHash('sha256').update(tuple).digest('base64url');

export class RedisPackageTable implements PackageTable {
  constructor(
    private readonly redis: Redis,
    private readonly key: string,
  ) {}

  async ids(tuples: readonly string[]): Promise<{ epoch: string; ids: number[] }> {
    const ids: number[] = [];
    let epoch: string | undefined;
    const start = randomUUID();
    for (let i = 0; i < tuples.length || epoch === undefined; i += IDS_CHUNK) {
      const args: string[] = [start];
      for (const t of tuples.slice(i, i + IDS_CHUNK)) args.push(contentHash(t), t);
      const reply = (await runLuaScript(this.redis, IDS(), [this.key], args)) as [string, ...number[]];
      // The table could start over between two calls: numbers of two epochs are not one view's.
      if (epoch !== undefined && reply[0] !== epoch) throw new ChainError('TRANSIENT', 'the package table started over while packages were added; try again');
      epoch = reply[0];
      ids.push(...(reply.slice(1) as number[]));
      if (tuples.length === 0) break;
    }
    return { epoch, ids };
  }

  async tuples(ids: readonly number[]): Promise<{ epoch: string | null; tuples: Array<string | null> }> {
    const [epoch, ...tuples] = await this.redis.hmget(this.key, 'epoch', ...ids.map((id) => `#${id}`));
    return { epoch: epoch ?? null, tuples: tuples.map((t) => t ?? null) };
  }

  epoch(): Promise<string | null> {
    return this.redis.hget(this.key, 'epoch');
  }
}

/** The same table in memory (MemorySbomStore). */
export class MemoryPackageTable implements PackageTable {
  private readonly byText = new Map<string, number>();
  private readonly byId: string[] = [];
  private current: string | null = null;

  ids(tuples: readonly string[]): Promise<{ epoch: string; ids: number[] }> {
    this.current ??= randomUUID();
    const ids = tuples.map((t) => {
      let id = this.byText.get(t);
      if (id === undefined) {
        id = this.byId.push(t);
        this.byText.set(t, id);
      }
      return id;
    });
    return Promise.resolve({ epoch: this.current, ids });
  }

  tuples(ids: readonly number[]): Promise<{ epoch: string | null; tuples: Array<string | null> }> {
    return Promise.resolve({ epoch: this.current, tuples: ids.map((id) => this.byId[id - 1] ?? null) });
  }

  epoch(): Promise<string | null> {
    return Promise.resolve(this.current);
  }

  /** Starts the table over (a lost table): a new epoch, no packages. */
  clear(): void {
    this.byText.clear();
    this.byId.length = 0;
    this.current = null;
  }
}

/**
 * Packages remembered by number; past it the cache starts over. Sized to hold a fleet (the rescan
 * bench's 10,000 images hold about 650,000 distinct packages), each an object whose strings the match
 * cache's entries share.
 */
const CACHE_BOUND = { max: 1_000_000, min: 50_000, entryBytes: 250, share: 0.1 };
const MAX_CACHED = heapBound(CACHE_BOUND);

/** The table's packages a worker has read, by number, for one epoch of the table. */
export class TableCache {
  private epochOf: string | null = null;
  /** A package, or why the table's text of it cannot be read (the views naming it are refused, not the batch). */
  private byId: Array<Package | ChainError | undefined> = [];
  private size = 0;

  constructor(
    private readonly table: PackageTable,
    private readonly max = MAX_CACHED,
  ) {}

  /**
   * Makes sure every number of `ids` is held, for the table as it is now (`epoch`: read with the views,
   * so a table that started over since is seen). Throws a ChainError when the table changes under the
   * read; a number the table does not hold stays unknown (the view naming it is refused).
   */
  async load(epoch: string | null, ids: Iterable<number>): Promise<void> {
    if (epoch !== this.epochOf) this.reset(epoch);
    if (epoch === null) return;
    const wanted = [...ids];
    let missing = wanted.filter((id) => this.byId[id] === undefined);
    if (missing.length === 0) return;
    if (this.size + missing.length > this.max) {
      // Started over: every package of these views is read again, not only those missing before.
      this.reset(epoch);
      missing = wanted;
    }
    const read = await this.table.tuples(missing);
    if (read.epoch !== epoch) throw new ChainError('TRANSIENT', 'the package table started over while rescan views were read; try again');
    missing.forEach((id, i) => {
      const text = read.tuples[i];
      if (text === null || text === undefined || this.byId[id] !== undefined) return;
      try {
        this.byId[id] = decodeTablePackage(text, id);
      } catch (err) {
        this.byId[id] = err instanceof ChainError ? err : new ChainError('INTERNAL', `package ${id} of the package table is unreadable`, { cause: err });
      }
      this.size++;
    });
  }

  /** The package of `id` (load first): undefined when the table does not hold it, a ChainError when it cannot be read. */
  get(id: number): Package | ChainError | undefined {
    return this.byId[id];
  }

  get epoch(): string | null {
    return this.epochOf;
  }

  private reset(epoch: string | null): void {
    this.epochOf = epoch;
    this.byId = [];
    this.size = 0;
  }
}
