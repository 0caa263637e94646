/**
 * The rescan view stored beside each SBOM: the packages exactly as packagesFromCycloneDx reads them
 * from the stored SBOM, written with it, read back for SBOMs stored without one, and refused (never
 * read as no packages) when it is not in its shape.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { generateFleet, type Sizes } from '../../../bench/rescan-fleet';
import { ChainError } from '../../../src/errors';
import { MemorySbomStore, RedisSbomStore, type RescanView, toCycloneDx } from '../../../src/scan';
import { packagesFromCycloneDx, type StoredScan } from '../../../src/scan/sbom/cyclonedx';
import { MemoryPackageTable, type PackageTable, TableCache } from '../../../src/scan/sbom/package-table';
import {
  decodeTablePackage,
  encodeRescanView,
  idsOf,
  packageTuple,
  parseRescanView,
  RESCAN_VIEW_FORMAT,
  resolveRescanView,
  rescanViewOf,
} from '../../../src/scan/sbom/rescan-view';
import { type HygieneResult, type Package } from '../../../src/scan/types';
import { onCleanup, testDataDir, useRedis } from '../../support/services';

const SIZES: Sizes = {
  images: 3,
  debianSources: 300,
  npmPackages: 600,
  pypiPackages: 300,
  debianRecords: 0,
  npmRecords: 0,
  npmMalicious: 0,
  pypiRecords: 0,
  pypiMalicious: 0,
};

const HYGIENE = { setuidFiles: ['usr/bin/su'], shells: ['bin/sh'], networkTools: [], user: '', runsAsRoot: true, issues: [] } as unknown as HygieneResult;

/** Packages the generated fleet has none of: licenses, no layer or location, a release without a source. */
const extra: Package[] = [
  { name: 'left-pad', version: '1.3.0', ecosystem: 'npm', purl: 'pkg:npm/left-pad@1.3.0', layer: '', location: '', licenses: ['MIT', 'WTFPL'] },
  {
    name: 'requests',
    version: '2.31.0',
    ecosystem: 'PyPI',
    purl: 'pkg:pypi/requests@2.31.0',
    layer: 'sha256:l9',
    location: 'site-packages/requests',
    release: 'x',
  },
];

/** Realistic images (Debian with npm or PyPI) as the scan stage stores them. */
const storedImages = (): StoredScan[] =>
  generateFleet(SIZES, 11).map((image, n) => ({
    registry: 'source',
    repository: image.repository,
    digest: image.digest,
    scannedAt: '2025-01-01T00:00:00.000Z',
    ...(n === 0 ? {} : { os: { ...image.os, prettyName: 'Debian GNU/Linux 12 (bookworm)' } }),
    hygiene: HYGIENE,
    sbom: toCycloneDx({ registryHost: 'registry.example', repository: image.repository, digest: image.digest, os: image.os, toolVersion: 'test' }, [
      ...image.packages,
      ...(n === 0 ? extra : []),
    ]),
  }));

/** A view's text with its packages numbered in `table`. */
const encodeIn = async (table: PackageTable, view: RescanView) => encodeRescanView(view, await table.ids(view.packages.map(packageTuple)));

/** A view read back as the store reads it: parsed, its packages loaded from `table`, resolved. */
const decodeIn = async (table: PackageTable, text: string, key: string, digest?: string) => {
  const parsed = parseRescanView(text, key, digest);
  const known = new TableCache(table);
  await known.load(await table.epoch(), idsOf(parsed));
  return resolveRescanView(parsed, (id) => known.get(id));
};

const expectView = (view: RescanView | undefined | ChainError, stored: StoredScan, sbomPackages: Package[]) => {
  assert.ok(view && !(view instanceof ChainError), String(view));
  // Exactly packagesFromCycloneDx's output: the same fields, in the same order, optional ones absent.
  assert.deepStrictEqual(view.packages, sbomPackages);
  assert.equal(JSON.stringify(view.packages), JSON.stringify(sbomPackages));
  assert.deepStrictEqual(
    [view.registry, view.repository, view.digest, view.scannedAt, view.os, view.hygiene],
    [stored.registry, stored.repository, stored.digest, stored.scannedAt, stored.os, stored.hygiene],
  );
  assert.equal('os' in view, stored.os !== undefined);
};

describe('rescan views: the packages of a stored SBOM, cheap to read', () => {
  let redis: Redis;
  const images = storedImages();

  before(async () => {
    const server = await useRedis(testDataDir());
    redis = new Redis(server.url);
    onCleanup(() => redis.disconnect());
  });

  after(async () => {
    await redis.flushall();
  });

  it('round-trips the packages exactly as packagesFromCycloneDx reads them from the stored SBOM', async () => {
    const table = new MemoryPackageTable();
    for (const stored of images) {
      // As a rescan reads the SBOM: from its stored JSON.
      const sbom = (JSON.parse(JSON.stringify(stored)) as StoredScan).sbom;
      const packages = packagesFromCycloneDx(sbom);
      assert.ok(packages.length >= 200, `a realistic image: ${packages.length} packages`);
      assert.ok(packages.some((p) => p.sourceName !== undefined && p.release !== undefined));
      const text = await encodeIn(table, rescanViewOf(stored));
      const view = await decodeIn(table, text, 'k', stored.digest);
      expectView(view, stored, packages);
      // Matching reads the rows: the table's packages (one object per number), each with its layer.
      assert.deepEqual(
        view.rows.layers,
        packages.map((p) => p.layer),
      );
      assert.deepEqual(
        view.rows.packages.map((p) => p.purl),
        packages.map((p) => p.purl),
      );
      assert.equal(view.rows.table?.ids.length, packages.length);
    }
    // Each distinct package is in the table once, whichever images hold it.
    const distinct = new Set(images.flatMap((i) => packagesFromCycloneDx(i.sbom).map(packageTuple)));
    assert.deepEqual(
      (await table.ids([...distinct])).ids.sort((a, b) => a - b),
      [...Array(distinct.size).keys()].map((i) => i + 1),
    );
    assert.ok(packagesFromCycloneDx(images[0]!.sbom).some((p) => p.licenses?.length === 2 && p.layer === ''));
  });

  it('keeps at most its bound of table packages, reading again all those a read asks for when it starts over', async () => {
    const table = new MemoryPackageTable();
    const packages = rescanViewOf(images[0]!).packages.slice(0, 5);
    const { epoch, ids } = await table.ids(packages.map(packageTuple));
    const known = new TableCache(table, 3);
    await known.load(epoch, ids.slice(0, 2));
    // Two held, three asked for of which one is held: past the bound, so it starts over and reads all three.
    await known.load(epoch, ids.slice(1, 4));
    for (const [i, id] of ids.slice(1, 4).entries()) assert.equal((known.get(id) as Package | undefined)?.purl, packages[i + 1]!.purl);
    assert.equal(known.get(ids[0]!), undefined, 'let go when it started over');
    // Another epoch: nothing of the old one is kept.
    table.clear();
    const next = await table.ids([packageTuple(packages[4]!)]);
    await known.load(next.epoch, next.ids);
    assert.equal((known.get(next.ids[0]!) as Package | undefined)?.purl, packages[4]!.purl);
    assert.equal(known.get(ids[2]!), undefined);
  });

  it('refuses a view that is not in its shape, or names a package the table does not hold, naming the key and the problem', async () => {
    const stored = images[0]!;
    const table = new MemoryPackageTable();
    const good = JSON.parse(await encodeIn(table, rescanViewOf(stored))) as Record<string, unknown> & { packages: number[] };
    const withRow = (i: number, value: unknown) => ({ ...good, packages: good.packages.slice(0, 3).map((v, j) => (j === i ? value : v)) });
    const cases: Array<[unknown, RegExp]> = [
      [[], /expected an object/],
      [{ ...good, format: 'dchain-rescan-view/1' }, /format: expected "dchain-rescan-view\/2"/],
      [{ ...good, format: undefined }, /format: expected .* got none/],
      [{ ...good, packages: undefined }, /packages: expected an array of three numbers a package/],
      [{ ...good, packages: [1, 0] }, /packages: expected an array of three numbers a package/],
      [{ ...good, digest: 7 }, /digest: expected a string/],
      [{ ...good, digest: `sha256:${'f'.repeat(64)}` }, /digest: the view is of sha256:f+/],
      [{ ...good, hygiene: null }, /hygiene: expected an object/],
      [{ ...good, os: { id: 'debian' } }, /os\.versionId: expected a string/],
      [{ ...good, table: '' }, /table: expected a non-empty string/],
      [{ ...good, strings: [1] }, /strings\[0\]: expected a string/],
      [withRow(0, 0), /packages\[0\]: expected a package number of the table/],
      [withRow(0, '1'), /packages\[0\]: expected a package number of the table/],
      [withRow(1, 1e9), /packages\[0\]\.layer: expected an index into strings/],
      [withRow(2, '0'), /packages\[0\]\.location: expected an index into strings/],
    ];
    for (const [json, message] of cases) {
      assert.throws(
        () => parseRescanView(JSON.stringify(json), 'the-key', stored.digest),
        (err: unknown) => ChainError.is(err, 'INTERNAL') && /^rescan view the-key is malformed: /.test(err.message) && message.test(err.message),
        String(message),
      );
    }
    assert.throws(() => parseRescanView('{not json', 'the-key'), /rescan view the-key is not JSON/);
    assert.equal(RESCAN_VIEW_FORMAT, good.format);

    // A number the table does not hold: refused, never read as fewer packages.
    await assert.rejects(
      decodeIn(table, JSON.stringify(withRow(0, 999_999)), 'the-key', stored.digest),
      (err: unknown) => ChainError.is(err, 'INTERNAL') && /^rescan view the-key names package 999999, which the package table does not hold$/.test(err.message),
    );
    // A package of the table that is not in its shape: refused, naming its number.
    const tuple = JSON.parse(packageTuple(rescanViewOf(stored).packages[0]!)) as unknown[];
    const withField = (i: number, value: unknown) => JSON.stringify(tuple.map((v, j) => (j === i ? value : v)));
    const tableCases: Array<[string, RegExp]> = [
      ['{not json', /package 7 of the package table is not JSON/],
      [JSON.stringify(['a', '1']), /package 7 of the package table is malformed: expected a tuple of 8/],
      [withField(1, ''), /malformed: version: expected a non-empty string/],
      [withField(3, null), /malformed: purl: expected a non-empty string/],
      [withField(4, ''), /malformed: sourceName: expected a non-empty string/],
      [withField(7, []), /malformed: licenses: expected null or a non-empty array/],
      [withField(7, ['MIT', 3]), /malformed: licenses\[1\]: expected a non-empty string/],
    ];
    for (const [text, message] of tableCases)
      assert.throws(
        () => decodeTablePackage(text, 7),
        (err: unknown) => ChainError.is(err, 'INTERNAL') && message.test(err.message),
        String(message),
      );
  });

  it('stores the view with the SBOM, and reads many views in one go: stored, missing and unreadable apart', async () => {
    const store = new RedisSbomStore(redis, 'test:views:');
    for (const stored of images) await store.put(stored);
    const viewKeys = await redis.keys('test:views:rescan-view/2:*');
    assert.equal(viewKeys.length, images.length, 'a view beside each SBOM');
    const [a, b, c] = images as [StoredScan, StoredScan, StoredScan];
    await redis.set(`test:views:rescan-view/2:${c.digest}`, JSON.stringify({ format: RESCAN_VIEW_FORMAT }));
    const missing = `sha256:${'e'.repeat(64)}`;
    const read = await store.getViews([a.digest, missing, b.digest, c.digest]);
    assert.deepEqual([...read.keys()], [a.digest, missing, b.digest, c.digest]);
    for (const stored of [a, b]) expectView(read.get(stored.digest)!(), stored, packagesFromCycloneDx((await store.get(stored.digest))!.sbom));
    assert.equal(read.get(missing)!(), undefined);
    const bad = read.get(c.digest)!();
    assert.ok(ChainError.is(bad, 'INTERNAL'), String(bad));
    assert.match(bad.message, /^rescan view test:views:rescan-view\/2:sha256:[0-9a-f]{64} is malformed: /);
    // A view that cannot be read is not replaced by the SBOM: it stays refused.
    assert.ok((await store.getViews([c.digest])).get(c.digest)!() instanceof ChainError);
    // The existing readers are as they were.
    assert.equal((await store.getMany([c.digest])).get(c.digest)!() instanceof ChainError, false);
    // A view whose SBOM is gone is not read: the image is unknown, as its SBOM is.
    await redis.del(`test:views:${b.digest}`);
    assert.equal((await store.getViews([b.digest])).get(b.digest)!(), undefined);
  });

  it('reads the SBOM of an image stored without a view, and stores its view for the next read', async () => {
    const store = new RedisSbomStore(redis, 'test:old:');
    const [a, b] = images as [StoredScan, StoredScan];
    // As before views: the SBOM alone.
    await redis.set(`test:old:${a.digest}`, JSON.stringify(a));
    await store.put(b);
    await redis.set(`test:old:${`sha256:${'d'.repeat(64)}`}`, '{not json');
    const broken = `sha256:${'d'.repeat(64)}`;
    const first = await store.getViews([a.digest, b.digest, broken]);
    expectView(first.get(a.digest)!(), a, packagesFromCycloneDx((await store.get(a.digest))!.sbom));
    expectView(first.get(b.digest)!(), b, packagesFromCycloneDx((await store.get(b.digest))!.sbom));
    assert.match((first.get(broken)!() as Error).message, /stored SBOM test:old:sha256:d+ is not JSON/);
    const written = await redis.get(`test:old:rescan-view/2:${a.digest}`);
    assert.ok(written, 'the view is stored beside the SBOM');
    assert.equal(await redis.exists(`test:old:rescan-view/2:${broken}`), 0, 'no view of an SBOM that cannot be read');
    // The next read takes the view (an SBOM that cannot be parsed shows it is not read again), and reads the same.
    await redis.set(`test:old:${a.digest}`, '{not json');
    expectView((await store.getViews([a.digest])).get(a.digest)!(), a, packagesFromCycloneDx((JSON.parse(JSON.stringify(a)) as StoredScan).sbom));
    // A view a new scan stored meanwhile (after the views were read, before the backfill) is kept.
    await redis.set(`test:old:${b.digest}`, JSON.stringify(b));
    await redis.del(`test:old:rescan-view/2:${b.digest}`);
    const newer = encodeRescanView(
      { ...rescanViewOf(b), scannedAt: '2026-01-01T00:00:00.000Z' },
      { epoch: 'x', ids: rescanViewOf(b).packages.map((_, i) => i + 1) },
    );
    const racing = redis.duplicate();
    onCleanup(() => racing.disconnect());
    const mget = racing.mget.bind(racing);
    let reads = 0;
    // The views are read in a pipeline, the SBOMs by MGET: the new scan's view lands just before that.
    racing.mget = (async (...keys: string[]) => {
      if (++reads === 1) await redis.set(`test:old:rescan-view/2:${b.digest}`, newer);
      return mget(...keys);
    }) as typeof racing.mget;
    await new RedisSbomStore(racing, 'test:old:').getViews([b.digest]);
    assert.equal(reads, 1);
    assert.equal(await redis.get(`test:old:rescan-view/2:${b.digest}`), newer);
  });

  it('keeps each package once in the table, drops views of the earlier format, and reads views of a table that started over from their SBOMs', async () => {
    const store = new RedisSbomStore(redis, 'test:table:');
    const [a, b, c] = images as [StoredScan, StoredScan, StoredScan];
    const packagesOf = async (stored: StoredScan) => packagesFromCycloneDx((await store.get(stored.digest))!.sbom);
    // An image stored with a view of the earlier format (its packages held in the view): read from the SBOM, the view written anew.
    await redis.set(`test:table:${a.digest}`, JSON.stringify(a));
    await redis.set(`test:table:rescan-view/1:${a.digest}`, JSON.stringify({ format: 'dchain-rescan-view/1' }));
    await store.put(b);
    expectView((await store.getViews([a.digest])).get(a.digest)!(), a, await packagesOf(a));
    assert.equal(await redis.exists(`test:table:rescan-view/1:${a.digest}`), 0, 'the earlier view is dropped');
    const distinct = new Set([a, b].flatMap((i) => packagesFromCycloneDx(i.sbom).map(packageTuple)));
    assert.equal(await redis.hlen('test:table:packages'), 2 + 2 * distinct.size, 'the epoch, the counter, and a number and a text per distinct package');
    const epochOf = async (d: string) => (JSON.parse((await redis.get(`test:table:rescan-view/2:${d}`))!) as { table: string }).table;
    const first = await epochOf(a.digest);
    assert.equal(first, await redis.hget('test:table:packages', 'epoch'));

    // The table is lost and starts over: its numbers now name other packages. The views of the old
    // table are read from their SBOMs (and written again), never with the new table's packages, by a
    // store on the same connection, which had read the old table's packages.
    await redis.del('test:table:packages');
    await store.put(c);
    const again = await new RedisSbomStore(redis, 'test:table:').getViews([a.digest, b.digest, c.digest]);
    for (const stored of [a, b, c]) expectView(again.get(stored.digest)!(), stored, await packagesOf(stored));
    const second = await redis.hget('test:table:packages', 'epoch');
    assert.notEqual(second, first);
    assert.equal(await epochOf(a.digest), second);
    expectView((await store.getViews([a.digest])).get(a.digest)!(), a, await packagesOf(a));

    // A number missing from the table it names: the view is refused (fail closed), by a process that never read it.
    await redis.hdel('test:table:packages', '#1');
    const fresh = redis.duplicate();
    onCleanup(() => fresh.disconnect());
    const refused = (await new RedisSbomStore(fresh, 'test:table:').getViews([c.digest])).get(c.digest)!();
    assert.ok(ChainError.is(refused, 'INTERNAL'), String(refused));
    assert.equal(refused.message, `rescan view test:table:rescan-view/2:${c.digest} names package 1, which the package table does not hold`);
  });

  it('keeps the memory store on a par: a view on put, the SBOM read for one stored without', async () => {
    const store = new MemorySbomStore();
    const [a, b] = images as [StoredScan, StoredScan];
    await store.put(a);
    await store.put(b);
    store.forgetView(b.digest);
    const missing = `sha256:${'c'.repeat(64)}`;
    const read = await store.getViews([a.digest, b.digest, missing]);
    expectView(read.get(a.digest)!(), a, packagesFromCycloneDx((await store.get(a.digest))!.sbom));
    expectView(read.get(b.digest)!(), b, packagesFromCycloneDx((await store.get(b.digest))!.sbom));
    assert.equal(read.get(missing)!(), undefined);
    expectView((await store.getViews([b.digest])).get(b.digest)!(), b, packagesFromCycloneDx((await store.get(b.digest))!.sbom));
    // A table that started over: the views are read from their SBOMs again.
    store.table.clear();
    const again = await store.getViews([a.digest, b.digest]);
    for (const stored of [a, b]) expectView(again.get(stored.digest)!(), stored, packagesFromCycloneDx((await store.get(stored.digest))!.sbom));
    await assert.rejects(store.getViews(['latest']), /not a sha256 image digest/);
  });
});
