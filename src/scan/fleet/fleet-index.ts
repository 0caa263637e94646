/**
 * The fleet's package index in Redis: which images hold which package (a bitmap per package key
 * over small image ids, 1.25 KB per package for 10,000 images) and which version of it (a set of
 * image ids per version entry, with the set of entries under each key: most versions are held by a
 * few images, where a bitmap would take a bit per image of the fleet), the OSV version each image
 * was last matched against, the rank the findings each was last gated on were cut at (a delta
 * leaves alone an image no change reaches: mustRematch), the images with an untold change or a
 * signed summary to keep fresh, and the OSV fingerprint and per-version hit digests of the last
 * rescan. Nothing is removed: a digest's packages do not change, and a stale entry only costs a
 * re-match (a cut is replaced or dropped whenever the image is matched).
 */
import { randomUUID } from 'node:crypto';
import { type ChainableCommander, type Redis } from 'ioredis';
import { ChainError } from '../../errors';
import { type ImageIndex, keyOfVersion, type OsvFingerprint } from './fingerprint';
import { type FingerprintState, type FleetState } from './plan';
import { RANKS } from '../finding-rank';

/** Assigns the next image id once per digest, atomically. */
const ID_FOR = `
local id = redis.call('HGET', KEYS[1], ARGV[1])
if id then return id end
id = redis.call('INCR', KEYS[3])
redis.call('HSET', KEYS[1], ARGV[1], id)
redis.call('HSET', KEYS[2], id, ARGV[1])
return id`;

/** A gatedRecord entry: what a decision was gated on and the digest of the findings its record then held. */
export function gatedRecordOf(inputs: string, recordFindings: string): string {
  return `${inputs} ${recordFindings}`;
}

/** The record's findings digest `entry` (a gatedRecord) pairs with `inputs`; undefined when gated on other inputs. */
export function heldThenOf(entry: string | null | undefined, inputs: string): string | undefined {
  return entry?.startsWith(`${inputs} `) ? entry.slice(inputs.length + 1) : undefined;
}

/** Package keys per BITOP: bounded so one command stays small. */
const BITOP_CHUNK = 500;
/** Commands or fields per pipeline step when reading or writing many entries. */
const CHUNK = 5000;
/** A pending fingerprint outlives any rescan that waits to commit it. */
const PENDING_TTL_SECONDS = 2 * 24 * 3600;

export class FleetIndex {
  constructor(
    private readonly redis: Redis,
    private readonly prefix = 'dchain:fleet:',
  ) {}

  /** Indexes `digest` under its package keys and versions and records the OSV version it was matched against. */
  async add(digest: string, index: ImageIndex, osvVersion: string): Promise<void> {
    const id = await this.idOf(digest);
    const pipe = this.redis.pipeline();
    for (const key of index.keys) pipe.setbit(this.packageKey(key), id, 1);
    for (let i = 0; i < index.keys.length; i += CHUNK) pipe.sadd(this.key('keys'), ...index.keys.slice(i, i + CHUNK));
    for (const entry of index.versions) {
      pipe.sadd(this.versionsKey(keyOfVersion(entry)), entry);
      pipe.sadd(this.versionKey(entry), id);
    }
    // Last: an image is known as version-indexed only once all of its versions are.
    pipe.setbit(this.key('vidx'), id, 1);
    pipe.hset(this.key('matched'), digest, osvVersion);
    // Matched here by the scan stage, which keeps neither: the next rescan re-gates, and re-matches it in a delta.
    pipe.hdel(this.key('gated'), digest);
    pipe.hdel(this.key('gatedrecord'), digest);
    pipe.hdel(this.key('cut'), digest);
    await exec(pipe);
  }

  /**
   * What each image's decision was last gated on (findingsDigest), so a delta rescan that matches the
   * same again skips the re-gate. The scan stage's gate leaves none (its findings are annotated
   * differently): the first rescan after a scan re-gates.
   */
  async gatedOn(digests: readonly string[]): Promise<Array<string | null>> {
    if (digests.length === 0) return [];
    return this.redis.hmget(this.key('gated'), ...digests);
  }

  async setGatedOn(entries: ReadonlyMap<string, string>): Promise<void> {
    if (entries.size) await this.redis.hset(this.key('gated'), Object.fromEntries(entries));
  }

  /**
   * What each image's decision was last gated on together with the digest of the findings its record
   * then held (`gatedRecord`: "<findingsDigest> <findingFactsDigest>"), both set by one re-gate or by the
   * scan stage's gate (setGatedRecord). A rescan that matches the same again, of a record still holding
   * those findings, re-gates it without digesting its findings: whatever else wrote the record since (a
   * gate, an earlier version), its findings' digest tells.
   */
  async gatedRecord(digests: readonly string[]): Promise<Array<string | null>> {
    if (digests.length === 0) return [];
    return this.redis.hmget(this.key('gatedrecord'), ...digests);
  }

  /**
   * What the scan stage's gate decided on (`inputs`, findingsDigest of the scan's findings and the VEX it
   * read) and the digest of the findings its record holds: the gatedRecord a re-gate would write, so the
   * first rescan that matches the same findings re-gates without digesting them. Not `gated`: a delta
   * carries no image the scan stage gated (the first rescan re-gates it, as add() says).
   */
  async setGatedRecord(digest: string, inputs: string, recordFindings: string): Promise<void> {
    await this.redis.hset(this.key('gatedrecord'), digest, gatedRecordOf(inputs, recordFindings));
  }

  /**
   * A re-gate's step in one transaction: what each image was gated on (`on`), its `gatedRecord` (null:
   * the record's findings digest is unknown, dropped), and the images re-gated on unchecked data, whose
   * decision stands on no matched packages (`dropped`: both forgotten).
   */
  async setGated(on: ReadonlyMap<string, string>, record: ReadonlyMap<string, string | null>, dropped: readonly string[]): Promise<void> {
    const set = [...record].filter((e): e is [string, string] => e[1] !== null);
    const forget = [...[...record].filter(([, v]) => v === null).map(([d]) => d), ...dropped];
    if (on.size === 0 && set.length === 0 && forget.length === 0) return;
    const tx = this.redis.multi();
    if (on.size) tx.hset(this.key('gated'), Object.fromEntries(on));
    if (set.length) tx.hset(this.key('gatedrecord'), Object.fromEntries(set));
    if (forget.length) tx.hdel(this.key('gatedrecord'), ...forget);
    if (dropped.length) tx.hdel(this.key('gated'), ...dropped);
    await exec(tx);
  }

  /** Images a delta rescan must re-gate whatever it matches (an untold change, a summary due). */
  async storeMustRegate(runKey: string, digests: readonly string[]): Promise<void> {
    const key = this.key(`must:${runKey}`);
    const pipe = this.redis.pipeline().del(key);
    for (let i = 0; i < digests.length; i += 5000) pipe.sadd(key, ...digests.slice(i, i + 5000));
    pipe.expire(key, PENDING_TTL_SECONDS);
    await exec(pipe);
  }

  async mustRegate(runKey: string, digests: readonly string[]): Promise<boolean[]> {
    if (digests.length === 0) return [];
    return (await this.redis.smismember(this.key(`must:${runKey}`), ...digests)).map((m) => m === 1);
  }

  /** Records the OSV version images were re-matched against. */
  async setMatched(digests: readonly string[], osvVersion: string): Promise<void> {
    if (digests.length === 0) return;
    await this.redis.hset(this.key('matched'), Object.fromEntries(digests.map((d) => [d, osvVersion])));
  }

  /** Whether each of `digests` is indexed already, by package key and version. */
  async indexed(digests: readonly string[]): Promise<boolean[]> {
    if (digests.length === 0) return [];
    const ids = await this.redis.hmget(this.key('ids'), ...digests);
    const pipe = this.redis.pipeline();
    for (const id of ids) if (id !== null) pipe.getbit(this.key('vidx'), Number(id));
    const bits = await exec(pipe);
    let next = 0;
    return ids.map((id) => id !== null && bits[next++] === 1);
  }

  /** The version entries the fleet holds under `packageKeys` (all keys: every entry indexed). */
  async versionsUnder(packageKeys?: readonly string[]): Promise<string[]> {
    const keys = packageKeys ?? (await this.redis.smembers(this.key('keys')));
    const out: string[] = [];
    for (let i = 0; i < keys.length; i += CHUNK) {
      const pipe = this.redis.pipeline();
      for (const key of keys.slice(i, i + CHUNK)) pipe.smembers(this.versionsKey(key));
      for (const members of await exec(pipe)) out.push(...(members as string[]));
    }
    return out;
  }

  /** The hit digest the last committed rescan saw for each entry (null: never digested, so unknown). */
  async versionDigests(entries: readonly string[]): Promise<Map<string, string | null>> {
    const out = new Map<string, string | null>();
    for (let i = 0; i < entries.length; i += CHUNK) {
      const chunk = entries.slice(i, i + CHUNK);
      const values = await this.redis.hmget(this.key('hits'), ...chunk);
      chunk.forEach((e, j) => out.set(e, values[j] ?? null));
    }
    return out;
  }

  /**
   * Keeps the hit digests a rescan planned with until it commits: `replace` (a full rescan, which
   * digested every entry) replaces all, otherwise they are merged over the committed ones.
   */
  async stageVersionDigests(runKey: string, digests: ReadonlyMap<string, string>, replace: boolean): Promise<void> {
    const key = this.key(`pending:${runKey}:hits`);
    const pipe = this.redis.pipeline().del(key);
    hsetInChunks(pipe, key, digests);
    pipe.set(`${key}:mode`, replace ? 'replace' : 'merge', 'EX', PENDING_TTL_SECONDS);
    pipe.expire(key, PENDING_TTL_SECONDS);
    await exec(pipe);
  }

  /** The images holding any of the version entries, each with the ones it holds. */
  async holdersOf(entries: readonly string[]): Promise<Map<string, string[]>> {
    const byId = new Map<string, string[]>();
    for (let i = 0; i < entries.length; i += CHUNK) {
      const chunk = entries.slice(i, i + CHUNK);
      const pipe = this.redis.pipeline();
      for (const entry of chunk) pipe.smembers(this.versionKey(entry));
      (await exec(pipe)).forEach((members, j) => {
        for (const id of members as string[]) {
          const held = byId.get(id);
          if (held) held.push(chunk[j]!);
          else byId.set(id, [chunk[j]!]);
        }
      });
    }
    const ids = [...byId.keys()];
    const out = new Map<string, string[]>();
    for (let i = 0; i < ids.length; i += CHUNK) {
      const chunk = ids.slice(i, i + CHUNK);
      const digests = await this.redis.hmget(this.key('digests'), ...chunk);
      digests.forEach((d, j) => {
        if (d !== null) out.set(d, byId.get(chunk[j]!)!);
      });
    }
    return out;
  }

  /**
   * The rank each image's gated findings were cut at (mustRematch), for the images it is known of. A
   * value that does not read as a rank is left out: the image is re-matched, never skipped on a guess.
   */
  async cutsOf(digests: readonly string[]): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    for (let i = 0; i < digests.length; i += CHUNK) {
      const chunk = digests.slice(i, i + CHUNK);
      const values = await this.redis.hmget(this.key('cut'), ...chunk);
      chunk.forEach((d, j) => {
        const value = values[j];
        if (value !== null && value !== undefined && /^\d$/.test(value) && Number(value) < RANKS) out.set(d, Number(value));
      });
    }
    return out;
  }

  /**
   * Records the cut of the findings each image of `set` was just gated on (or carried with), and
   * forgets it for `drop` (nothing was left out, or the image was not gated on what it matched).
   */
  async setCuts(set: ReadonlyMap<string, number>, drop: readonly string[]): Promise<void> {
    if (set.size === 0 && drop.length === 0) return;
    const tx = this.redis.multi();
    if (drop.length) tx.hdel(this.key('cut'), ...drop);
    if (set.size) tx.hset(this.key('cut'), Object.fromEntries([...set].map(([d, rank]) => [d, String(rank)])));
    await exec(tx);
  }

  /** Images under any of `packageKeys` that were indexed before versions were: a delta cannot tell which version they hold. */
  async unversionedWith(packageKeys: readonly string[]): Promise<string[]> {
    const [bits, versioned] = await Promise.all([this.union(packageKeys.map((k) => this.packageKey(k))), this.redis.getBuffer(this.key('vidx'))]);
    if (!bits) return [];
    const out = Buffer.from(bits);
    for (let i = 0; i < out.length; i++) out[i] = out[i]! & ~(versioned?.[i] ?? 0);
    return this.digestsOf(out);
  }

  /** The time of each image's last signed summary ('' = due; absent = not known as signed by the chain). */
  async attestedOf(digests: readonly string[]): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    if (digests.length === 0) return out;
    const values = await this.redis.hmget(this.key('attested'), ...digests);
    digests.forEach((d, i) => {
      const v = values[i];
      if (v !== null && v !== undefined) out.set(d, v);
    });
    return out;
  }

  /** Images indexed under any of `packageKeys`. */
  async imagesWith(packageKeys: readonly string[]): Promise<string[]> {
    return this.digestsOf(await this.union(packageKeys.map((k) => this.packageKey(k))));
  }

  /** The bitwise OR of the bitmaps `sources` (null: none set). */
  private async union(sources: readonly string[]): Promise<Buffer | null> {
    if (sources.length === 0) return null;
    const tmp = this.key(`tmp:${randomUUID()}`);
    const pipe = this.redis.pipeline();
    for (let i = 0; i < sources.length; i += BITOP_CHUNK) pipe.bitop('OR', tmp, ...(i === 0 ? [] : [tmp]), ...sources.slice(i, i + BITOP_CHUNK));
    pipe.getBuffer(tmp);
    pipe.del(tmp);
    const results = await exec(pipe);
    return results[results.length - 2] as Buffer | null;
  }

  /** The digests of the image ids set in `bits`. */
  private async digestsOf(bits: Buffer | null): Promise<string[]> {
    const ids: string[] = [];
    if (bits) {
      for (let byte = 0; byte < bits.length; byte++) {
        const b = bits[byte]!;
        if (b === 0) continue;
        // SETBIT numbers bits from the most significant bit of each byte.
        for (let bit = 0; bit < 8; bit++) if (b & (0x80 >> bit)) ids.push(String(byte * 8 + bit));
      }
    }
    return this.digestsOfIds(ids);
  }

  private async digestsOfIds(ids: readonly string[]): Promise<string[]> {
    const out: string[] = [];
    for (let i = 0; i < ids.length; i += CHUNK) {
      const digests = await this.redis.hmget(this.key('digests'), ...ids.slice(i, i + CHUNK));
      for (const d of digests) if (d !== null) out.push(d);
    }
    return out;
  }

  async state(): Promise<FleetState> {
    const [matched, unnotified, attested] = await Promise.all([
      this.redis.hgetall(this.key('matched')),
      this.redis.smembers(this.key('unnotified')),
      this.redis.hgetall(this.key('attested')),
    ]);
    return { matched: new Map(Object.entries(matched)), unnotified, attested: new Map(Object.entries(attested)) };
  }

  /** A change subscribers are to hear of (set) or heard of (cleared). */
  async setUnnotified(digests: readonly string[], told: readonly string[]): Promise<void> {
    const pipe = this.redis.pipeline();
    if (digests.length) pipe.sadd(this.key('unnotified'), ...digests);
    if (told.length) pipe.srem(this.key('unnotified'), ...told);
    await exec(pipe);
  }

  /** Images whose verification summary is due now (''), or was signed at `at`. */
  async setAttested(digests: readonly string[], at: string): Promise<void> {
    if (digests.length === 0) return;
    await this.redis.hset(this.key('attested'), Object.fromEntries(digests.map((d) => [d, at])));
  }

  async dropAttested(digests: readonly string[]): Promise<void> {
    if (digests.length) await this.redis.hdel(this.key('attested'), ...digests);
  }

  /**
   * The fingerprint of the last rescan that finished, if any. `known`: the fingerprint of an OSV data
   * version, when it is in memory (osvFingerprint of the data the last rescan matched): a fingerprint is
   * made of its data alone, so the one committed for that version is the same, and is not read back
   * (about 100,000 fields in the rescan bench).
   */
  async fingerprint(known?: (osvVersion: string) => OsvFingerprint | undefined): Promise<FingerprintState | undefined> {
    const meta = await this.redis.hgetall(this.key('meta'));
    if (!meta.osvVersion || !meta.matcher || meta.policyVersion === undefined || !meta.fullAt) return undefined;
    const fingerprint = known?.(meta.osvVersion) ?? new Map(Object.entries(await this.redis.hgetall(this.key('fingerprint'))));
    return { osvVersion: meta.osvVersion, matcher: meta.matcher, policyVersion: meta.policyVersion, fullAt: meta.fullAt, fingerprint };
  }

  /**
   * Keeps `state` until the rescan that took it finishes (commitFingerprint). With `base` (the OSV
   * version of the committed fingerprint this one was compared with, and the keys whose hash differs
   * from it: changedPackages, what the delta's plan computed): only those keys are staged, and the
   * commit merges them over the committed ones if those are still base's. A delta's data differs in a
   * few hundred keys of about 100,000, which every plan wrote and every commit copied.
   */
  async stageFingerprint(runKey: string, state: FingerprintState, base?: { osvVersion: string; changed: readonly string[] }): Promise<void> {
    const key = this.key(`pending:${runKey}`);
    const pipe = this.redis.pipeline().del(key, `${key}:gone`);
    let meta: Record<string, string> = { osvVersion: state.osvVersion, matcher: state.matcher, policyVersion: state.policyVersion, fullAt: state.fullAt };
    if (base === undefined) hsetInChunks(pipe, key, state.fingerprint);
    else {
      const changed = new Map<string, string>();
      const gone: string[] = [];
      for (const k of base.changed) {
        const hash = state.fingerprint.get(k);
        if (hash === undefined) gone.push(k);
        else changed.set(k, hash);
      }
      hsetInChunks(pipe, key, changed);
      for (let i = 0; i < gone.length; i += CHUNK) pipe.sadd(`${key}:gone`, ...gone.slice(i, i + CHUNK));
      meta = { ...meta, base: base.osvVersion };
    }
    pipe.hset(`${key}:meta`, meta);
    pipe.expire(key, PENDING_TTL_SECONDS).expire(`${key}:meta`, PENDING_TTL_SECONDS).expire(`${key}:gone`, PENDING_TTL_SECONDS);
    await exec(pipe);
  }

  /**
   * The fingerprint staged under `runKey` becomes the one the next rescan compares with, with the
   * hit digests staged beside it; images matched against the last committed version move on to the
   * new one (nothing they hold changed, or the rescan re-matched them). False when none is staged (a
   * retry after it was).
   */
  async commitFingerprint(runKey: string): Promise<boolean> {
    const key = this.key(`pending:${runKey}`);
    const hits = `${key}:hits`;
    const [staged, previous, hitsMode, matched] = await Promise.all([
      this.redis.hgetall(`${key}:meta`),
      this.redis.hget(this.key('meta'), 'osvVersion'),
      this.redis.get(`${hits}:mode`),
      this.redis.hgetall(this.key('matched')),
    ]);
    if (!staged.osvVersion) return false;
    const { base, ...state } = staged;
    const [merged, changed, gone] = await Promise.all([
      hitsMode === 'merge' ? this.redis.hgetall(hits).then(Object.entries) : [],
      base === undefined ? [] : this.redis.hgetall(key).then(Object.entries),
      base === undefined ? [] : this.redis.smembers(`${key}:gone`),
    ]);
    const tx = this.redis.multi();
    if (base === undefined) {
      // An empty OSV data set has no fingerprint entries: the (absent) hash is cleared all the same.
      tx.del(this.key('fingerprint')).copy(key, this.key('fingerprint'));
    } else if (base === previous) {
      for (let i = 0; i < changed.length; i += CHUNK) tx.hset(this.key('fingerprint'), Object.fromEntries(changed.slice(i, i + CHUNK)));
      for (let i = 0; i < gone.length; i += CHUNK) tx.hdel(this.key('fingerprint'), ...gone.slice(i, i + CHUNK));
    } else {
      // Staged as changes over a fingerprint that is no longer the committed one (another rescan
      // committed in between): no whole fingerprint to commit, so none is, and the next rescan is full.
      tx.del(this.key('fingerprint'), this.key('meta'), `${key}:meta`, key, `${key}:gone`, hits, `${hits}:mode`);
      await exec(tx);
      return true;
    }
    if (hitsMode === 'replace') tx.del(this.key('hits')).copy(hits, this.key('hits'));
    for (let i = 0; i < merged.length; i += CHUNK) tx.hset(this.key('hits'), Object.fromEntries(merged.slice(i, i + CHUNK)));
    const carried = previous ? Object.keys(matched).filter((d) => matched[d] === previous) : [];
    for (let i = 0; i < carried.length; i += CHUNK)
      tx.hset(this.key('matched'), Object.fromEntries(carried.slice(i, i + CHUNK).map((d) => [d, staged.osvVersion!])));
    tx.del(this.key('meta')).hset(this.key('meta'), state).del(`${key}:meta`, key, `${key}:gone`, hits, `${hits}:mode`);
    await exec(tx);
    return true;
  }

  /** The digests of a delta rescan, kept for its pages (and the runs it continues as new into). */
  async storePlan(runKey: string, digests: readonly string[]): Promise<void> {
    const key = this.key(`plan:${runKey}`);
    const pipe = this.redis.pipeline().del(key);
    for (let i = 0; i < digests.length; i += 5000) pipe.zadd(key, ...digests.slice(i, i + 5000).flatMap((d) => [0, d]));
    pipe.expire(key, PENDING_TTL_SECONDS);
    await exec(pipe);
  }

  async planPage(runKey: string, options: { after?: string; limit: number }): Promise<{ digests: string[]; next?: string }> {
    const from = options.after === undefined ? '-' : `(${options.after}`;
    const found = await this.redis.zrangebylex(this.key(`plan:${runKey}`), from, '+', 'LIMIT', 0, options.limit + 1);
    const digests = found.slice(0, options.limit);
    return found.length > options.limit ? { digests, next: digests[digests.length - 1]! } : { digests };
  }

  async dropPlan(runKey: string): Promise<void> {
    await this.redis.del(this.key(`plan:${runKey}`), this.key(`must:${runKey}`));
  }

  private async idOf(digest: string): Promise<number> {
    const id = Number(await this.redis.eval(ID_FOR, 3, this.key('ids'), this.key('digests'), this.key('next'), digest));
    if (!Number.isSafeInteger(id) || id < 0) throw new ChainError('INTERNAL', `fleet index: no image id for ${digest}`);
    return id;
  }

  private packageKey(key: string): string {
    return this.key(`pkg:${key}`);
  }

  private versionsKey(key: string): string {
    return this.key(`ver:${key}`);
  }

  private versionKey(entry: string): string {
    return this.key(`pv:${entry}`);
  }

  private key(name: string): string {
    return `${this.prefix}${name}`;
  }
}

/** Runs a pipeline or transaction; the first command error fails the call. */
async function exec(pipe: { exec(): Promise<Array<[Error | null, unknown]> | null> }): Promise<unknown[]> {
  const results = await pipe.exec();
  if (!results) throw new ChainError('TRANSIENT', 'fleet index: Redis transaction aborted');
  const failed = results.find(([err]) => err);
  if (failed?.[0]) throw new ChainError('TRANSIENT', `fleet index: ${failed[0].message}`, { cause: failed[0] });
  return results.map(([, value]) => value);
}

/**
 * HSETs of `fields` into `key`, CHUNK fields each, given as flat field-value arguments: a full
 * rescan stages a fleet's worth of version digests (about a million), and an object per chunk
 * (Object.fromEntries, then flattened again by the client) doubled the garbage of staging them.
 */
function hsetInChunks(pipe: ChainableCommander, key: string, fields: ReadonlyMap<string, string>): void {
  let args: string[] = [];
  for (const [field, value] of fields) {
    args.push(field, value);
    if (args.length === 2 * CHUNK) {
      pipe.hset(key, ...args);
      args = [];
    }
  }
  if (args.length) pipe.hset(key, ...args);
}
