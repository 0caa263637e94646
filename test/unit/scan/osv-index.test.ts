import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, truncateSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, describe, it } from 'node:test';
import { ChainError } from '../../../src/errors/chain-error';
import { importZip } from '../../../src/scan/osv';
import { importZipIndexed, indexFileOf, readIndex } from '../../../src/scan/osv/index-file';

const FIXTURES = resolve(__dirname, '../../fixtures/osv');

const dir = mkdtempSync(join(tmpdir(), 'osv-index-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** An all.zip of the fixture records of `ecosystems` in its own directory. */
function exportOf(name: string, ecosystems: string[]): string {
  const sub = join(dir, name);
  mkdirSync(sub, { recursive: true });
  const zip = join(sub, 'all.zip');
  execFileSync('python3', [
    '-c',
    'import sys,zipfile,glob,os\nz=zipfile.ZipFile(sys.argv[1],"w",zipfile.ZIP_DEFLATED)\nfor d in sys.argv[2:]:\n  for f in sorted(glob.glob(d+"/*.json")): z.write(f, os.path.basename(f))\nz.close()',
    zip,
    ...ecosystems.map((e) => join(FIXTURES, e)),
  ]);
  return zip;
}

const ids = (records: { id: string }[]) => records.map((r) => r.id).sort();
const identity = (zip: string) => {
  const info = statSync(zip);
  return { size: info.size, mtimeMs: info.mtimeMs, sha256: createHash('sha256').update(readFileSync(zip)).digest('hex') };
};
const refusedWith = (pattern: RegExp) => (err: unknown) => ChainError.is(err, 'BAD_INPUT') && pattern.test(err.message);

void describe('OSV index file (all.idx beside all.zip)', () => {
  void it('is written on the first import, then read instead of the zip, with the same records and data ages', async () => {
    const zip = exportOf('first', ['npm']);
    const direct = await importZip(zip, { records: [], rejected: [] }, 1000);
    const built = await importZipIndexed(zip, { records: [], rejected: [] }, 1000);
    assert.deepEqual(ids(built.records), ids(direct.records));
    assert.equal(built.records.length, 6);
    const index = indexFileOf(zip);
    const written = readFileSync(index);
    // Read back: the index alone answers (the zip's content is not needed once its identity matches).
    const read = await readIndex(index, identity(zip));
    assert.deepEqual(read.records, direct.records);
    const again = await importZipIndexed(zip, { records: [], rejected: [] }, 1000);
    assert.deepEqual(again.records, direct.records);
    assert.deepEqual(again.updatedAt, direct.updatedAt);
    assert.deepEqual(readFileSync(index), written, 'an index that matches is not rewritten');
  });

  void it('refuses a stale index (another export, or the same file touched) and rebuilds it from the zip', async () => {
    const zip = exportOf('stale', ['npm']);
    await importZipIndexed(zip, { records: [], rejected: [] }, 1000);
    const index = indexFileOf(zip);
    const npmOnly = readFileSync(index);
    // The export is replaced by one with more records: the old index must not hide them.
    exportOf('stale', ['npm', 'debian']);
    await assert.rejects(readIndex(index, identity(zip)), refusedWith(/stale/));
    const rebuilt = await importZipIndexed(zip, { records: [], rejected: [] }, 1000);
    assert.ok(rebuilt.records.length > 6);
    assert.ok(rebuilt.records.some((r) => r.affected?.some((a) => a.package?.ecosystem.startsWith('Debian'))));
    assert.notDeepEqual(readFileSync(index), npmOnly);
    // Same bytes, new mtime: refused too (size, mtime and sha256 all name the zip).
    const later = new Date(statSync(zip).mtimeMs + 60_000);
    utimesSync(zip, later, later);
    await assert.rejects(readIndex(index, identity(zip)), refusedWith(/stale/));
  });

  void it('refuses a truncated, corrupt or emptied index, never reading it as fewer advisories, and rebuilds it', async () => {
    const zip = exportOf('damaged', ['npm', 'pypi']);
    const full = await importZipIndexed(zip, { records: [], rejected: [] }, 1000);
    const index = indexFileOf(zip);
    const good = readFileSync(index);
    const damages: [string, () => void, RegExp][] = [
      ['truncated body', () => truncateSync(index, good.length - 40), /truncated/],
      ['truncated header', () => writeFileSync(index, good.subarray(0, 30)), /header/],
      ['one byte flipped in a record', () => writeFileSync(index, Buffer.from(good).fill(0x41, good.length - 10, good.length - 9)), /corrupt/],
      [
        'a record removed and the header edited to match its length',
        () => {
          const text = good.toString('utf8');
          const nl = text.indexOf('\n');
          const header = JSON.parse(text.slice(0, nl)) as { bodyBytes: number; records: number };
          const lines = text.slice(nl + 1).split('\n');
          lines.splice(0, 1);
          const body = lines.join('\n');
          header.bodyBytes = Buffer.byteLength(body);
          header.records -= 1;
          writeFileSync(index, `${JSON.stringify(header)}\n${body}`);
        },
        /corrupt/,
      ],
      ['empty file', () => writeFileSync(index, ''), /no header/],
    ];
    for (const [what, damage, reason] of damages) {
      writeFileSync(index, good);
      damage();
      await assert.rejects(readIndex(index, identity(zip)), refusedWith(reason), what);
      const again = await importZipIndexed(zip, { records: [], rejected: [] }, 1000);
      assert.deepEqual(ids(again.records), ids(full.records), `${what}: every record, from the zip`);
      assert.deepEqual(readFileSync(index), good, `${what}: the index is rebuilt`);
    }
  });

  void it('a missing or unreadable zip is an error, not an empty export', async () => {
    await assert.rejects(importZipIndexed(join(dir, 'nowhere', 'all.zip'), { records: [], rejected: [] }, 1000), refusedWith(/not readable/));
    const zip = exportOf('garbage', ['npm']);
    writeFileSync(zip, 'not a zip');
    await assert.rejects(importZipIndexed(zip, { records: [], rejected: [] }, 1000), (e: unknown) => ChainError.is(e, 'BAD_INPUT'));
  });
});
