/** The sqlite rpmdb: database pages (read by sql.js) and the WAL applied by hand (frames, salts, checksums, commits). */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe } from 'node:test';
import { applyWal, readSqliteRpmdb, RpmSqliteError } from '../../src/scan/catalog/rpmdb/sqlite';
import { catalogFiles, OS_RELEASE, wellFormed } from './catalog-support';
import { fc, fuzzTarget, mutated } from './harness';
import { rpmHeaderSeeds } from './seeds';

/** A real rpmdb.sqlite and a WAL with a committed transaction, written by SQLite itself (python3's sqlite3). */
function sqliteSeeds(): { db: Buffer; wal: Buffer } {
  const dir = mkdtempSync(join(tmpdir(), 'fuzz-sqlite-'));
  try {
    const [a, b] = rpmHeaderSeeds();
    writeFileSync(join(dir, 'a'), a!);
    writeFileSync(join(dir, 'b'), b!);
    const script = [
      'import sqlite3,sys,shutil',
      'd=sys.argv[1]',
      'c=sqlite3.connect(d+"/work.sqlite")',
      'c.execute("CREATE TABLE Packages(hnum INTEGER PRIMARY KEY AUTOINCREMENT, blob BLOB NOT NULL)")',
      'c.execute("INSERT INTO Packages(blob) VALUES (?)", (open(d+"/a","rb").read(),))',
      'c.commit()',
      'c.execute("PRAGMA journal_mode=WAL"); c.execute("PRAGMA wal_autocheckpoint=0")',
      'c.execute("INSERT INTO Packages(blob) VALUES (?)", (open(d+"/b","rb").read(),))',
      'c.commit()',
      'shutil.copy(d+"/work.sqlite", d+"/rpmdb.sqlite"); shutil.copy(d+"/work.sqlite-wal", d+"/rpmdb.sqlite-wal")',
      'c.close()',
    ].join('\n');
    execFileSync('python3', ['-c', script, dir]);
    return { db: readFileSync(join(dir, 'rpmdb.sqlite')), wal: readFileSync(join(dir, 'rpmdb.sqlite-wal')) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

void describe('fuzz: sqlite rpmdb', () => {
  const { db, wal } = sqliteSeeds();
  const both = async (d: Buffer, w: Buffer) => {
    wellFormed(await catalogFiles({ '/etc/os-release': OS_RELEASE.rocky, '/var/lib/rpm/rpmdb.sqlite': d, '/var/lib/rpm/rpmdb.sqlite-wal': w }));
    applyWal(d, w);
    return readSqliteRpmdb(d, w);
  };
  fuzzTarget('sqlite-pages', fc.tuple(mutated([db], 8), fc.boolean()), ([d, withWal]) => both(d, withWal ? wal : Buffer.alloc(0)), {
    runs: 60,
    typed: [RpmSqliteError],
  });
  fuzzTarget('sqlite-wal', mutated([wal], 8), (w) => both(db, w), { runs: 60, typed: [RpmSqliteError] });
});
