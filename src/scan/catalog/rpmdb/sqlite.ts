/**
 * The sqlite rpm database (rpm ≥ 4.16: RHEL/UBI 9, Fedora ≥ 33, openSUSE Tumbleweed): table
 * `Packages(hnum INTEGER PRIMARY KEY, blob BLOB)`, read with sql.js (SQLite compiled to WebAssembly, no
 * native build) from the captured bytes. rpm keeps the database in WAL mode; committed transactions
 * still in `rpmdb.sqlite-wal` (an image committed while rpm ran, or a crash) are applied first, as SQLite
 * itself would: frames with the header's salts and a valid running checksum, up to the last commit.
 */
import type initSqlJs from 'sql.js';
import { type SqlJsStatic } from 'sql.js';

export class RpmSqliteError extends Error {
  override readonly name = 'RpmSqliteError';
}

let engine: Promise<SqlJsStatic> | undefined;
/** sql.js is required on first use: every scan loads this module, few images hold a sqlite rpm database. */
// eslint-disable-next-line @typescript-eslint/no-require-imports -- lazy on purpose, see above
const sqlJs = () => (engine ??= (require('sql.js') as typeof initSqlJs)());

const WAL_MAGIC_LE = 0x377f0682;
const WAL_MAGIC_BE = 0x377f0683;
const WAL_HEADER = 32;
const FRAME_HEADER = 24;

function dbPageSize(db: Buffer): number | undefined {
  if (db.length < 100 || db.toString('latin1', 0, 16) !== 'SQLite format 3\u0000') return undefined;
  const raw = db.readUInt16BE(16);
  return raw === 1 ? 65536 : raw;
}

function checksum(buf: Buffer, start: number, end: number, s: [number, number], bigEndian: boolean): [number, number] {
  let [s0, s1] = s;
  for (let i = start; i < end; i += 8) {
    s0 = (s0 + (bigEndian ? buf.readUInt32BE(i) : buf.readUInt32LE(i)) + s1) >>> 0;
    s1 = (s1 + (bigEndian ? buf.readUInt32BE(i + 4) : buf.readUInt32LE(i + 4)) + s0) >>> 0;
  }
  return [s0, s1];
}

/**
 * The database with the WAL's committed frames applied; the database unchanged when the WAL is empty,
 * for another page size, or invalid from its header on. `applied` counts the frames copied.
 */
export function applyWal(db: Buffer, wal: Buffer | undefined): { db: Buffer; applied: number } {
  const pageSize = dbPageSize(db);
  if (!wal || wal.length < WAL_HEADER || !pageSize) return { db, applied: 0 };
  const magic = wal.readUInt32BE(0);
  if (magic !== WAL_MAGIC_LE && magic !== WAL_MAGIC_BE) return { db, applied: 0 };
  const bigEndian = magic === WAL_MAGIC_BE;
  if (wal.readUInt32BE(8) !== pageSize) return { db, applied: 0 };
  let sum = checksum(wal, 0, 24, [0, 0], bigEndian);
  if (sum[0] !== wal.readUInt32BE(24) || sum[1] !== wal.readUInt32BE(28)) return { db, applied: 0 };
  const salt1 = wal.readUInt32BE(16);
  const salt2 = wal.readUInt32BE(20);

  const pending = new Map<number, Buffer>();
  const committed = new Map<number, Buffer>();
  let dbPages = Math.floor(db.length / pageSize);
  let maxPage = dbPages;
  let applied = 0;
  for (let at = WAL_HEADER; at + FRAME_HEADER + pageSize <= wal.length; at += FRAME_HEADER + pageSize) {
    if (wal.readUInt32BE(at + 8) !== salt1 || wal.readUInt32BE(at + 12) !== salt2) break;
    sum = checksum(wal, at, at + 8, sum, bigEndian);
    sum = checksum(wal, at + FRAME_HEADER, at + FRAME_HEADER + pageSize, sum, bigEndian);
    if (sum[0] !== wal.readUInt32BE(at + 16) || sum[1] !== wal.readUInt32BE(at + 20)) break;
    const pageNo = wal.readUInt32BE(at);
    if (pageNo < 1) break;
    pending.set(pageNo, wal.subarray(at + FRAME_HEADER, at + FRAME_HEADER + pageSize));
    maxPage = Math.max(maxPage, pageNo);
    const commitSize = wal.readUInt32BE(at + 4);
    // A database only grows by pages the WAL holds: a larger size is a crafted frame, whose allocation is refused.
    if (commitSize > maxPage) break;
    if (commitSize > 0) {
      for (const [no, page] of pending) committed.set(no, page);
      applied += pending.size;
      pending.clear();
      dbPages = commitSize;
    }
  }
  if (committed.size === 0) return { db, applied: 0 };
  const out = Buffer.alloc(dbPages * pageSize);
  db.copy(out, 0, 0, Math.min(db.length, out.length));
  for (const [no, page] of committed) if (no <= dbPages) page.copy(out, (no - 1) * pageSize);
  return { db: out, applied };
}

/** Every (hnum, header blob) of the Packages table. */
export async function readSqliteRpmdb(file: Buffer, wal?: Buffer): Promise<{ hnum: number; blob: Uint8Array }[]> {
  if (!dbPageSize(file)) throw new RpmSqliteError('not an SQLite 3 database');
  const { db: bytes } = applyWal(file, wal);
  const SQL = await sqlJs();
  let db;
  try {
    db = new SQL.Database(bytes);
  } catch (e) {
    throw new RpmSqliteError(`cannot open: ${(e as Error).message}`);
  }
  try {
    const out: { hnum: number; blob: Uint8Array }[] = [];
    const stmt = db.prepare('SELECT hnum, blob FROM Packages ORDER BY hnum');
    try {
      while (stmt.step()) {
        const [hnum, blob] = stmt.get();
        if (typeof hnum === 'number' && blob instanceof Uint8Array) out.push({ hnum, blob });
      }
    } finally {
      stmt.free();
    }
    return out;
  } catch (e) {
    throw new RpmSqliteError(`cannot read the Packages table: ${(e as Error).message}`);
  } finally {
    db.close();
  }
}
