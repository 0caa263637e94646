/**
 * Reads OSV records from a directory tree of JSON files and per-ecosystem zip exports, in every
 * layout in use: the OSV bucket's and osv-scanner's `<Ecosystem>/all.zip`, flat `<Ecosystem>.zip`,
 * loose `*.json`, at any depth and through symbolic links. Every record is validated; invalid ones
 * are reported by source name, never silently dropped. Each record's ecosystems remember when the
 * file holding them was last written: the age of the data (see OsvDatabase) comes from there.
 */
import { readdir, readFile, realpath, stat } from 'node:fs/promises';
import { join } from 'node:path';
import pLimit from 'p-limit';
import type yauzl from 'yauzl';
import { ChainError } from '../../errors';
import { byCodeUnits } from '../code-unit-order';
import { baseEcosystem } from '../versions';
import { type OsvRecord, osvRecordSchema } from './schema';

export interface ImportResult {
  records: OsvRecord[];
  /** Sources that are not valid OSV records, with the reason. */
  rejected: { source: string; message: string }[];
  /** Per base ecosystem ('Debian', 'npm'): when the newest file holding its records was written (ms since epoch). */
  updatedAt?: Map<string, number>;
  /**
   * The validated record of each zip entry read (by file and entry name, with the entry's CRC-32 and
   * size from the zip's central directory): what the next import of the same exports reuses.
   */
  entries?: Map<string, ZipEntryRecord>;
}

/** A zip entry's validated record, with what identifies the entry's bytes. */
export interface ZipEntryRecord {
  crc32: number;
  size: number;
  record: OsvRecord;
}

/**
 * Records of an earlier import, reused for zip entries whose name, CRC-32 and size are the same in the
 * same file: a daily export rewrites the whole zip for the few records that changed, and reading,
 * parsing and validating every one of its entries again is most of a load's time. Any other entry
 * is read and validated as on a first import.
 */
export type ReusableEntries = ReadonlyMap<string, ZipEntryRecord>;

const MAX_RECORD_BYTES = 16 * 1024 * 1024;
/** Exports up to this size are read into memory whole (OSV's largest, npm's, is a few hundred MB). */
const MAX_BUFFERED_ZIP_BYTES = 1024 * 1024 * 1024;
/** Deeper than any export layout; stops a pathological tree rather than walking it forever. */
const MAX_DEPTH = 16;
/**
 * File system calls in flight at once while a directory is listed and its records are read. One at a time, each of
 * a loose record's calls (stat, open, read, close) waited for its own trip through libuv's thread pool: 20,000
 * record files took 5.2 s to import, nearly all of it waiting (1.7 s now, most of it parsing and validating).
 */
const FS_CONCURRENCY = 32;

/** Records when the data of each ecosystem `record` affects was current. */
export function noteEcosystems(record: OsvRecord, updatedAtMs: number | undefined, into: ImportResult): void {
  if (updatedAtMs === undefined) return;
  into.updatedAt ??= new Map();
  for (const affected of record.affected ?? []) {
    if (!affected.package) continue;
    const base = baseEcosystem(affected.package.ecosystem);
    if ((into.updatedAt.get(base) ?? -Infinity) < updatedAtMs) into.updatedAt.set(base, updatedAtMs);
  }
}

function parseRecord(text: string, source: string, into: ImportResult, updatedAtMs?: number): void {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    into.rejected.push({ source, message: `not JSON: ${(err as Error).message}` });
    return;
  }
  const parsed = osvRecordSchema.safeParse(json);
  if (parsed.success) {
    into.records.push(parsed.data);
    noteEcosystems(parsed.data, updatedAtMs, into);
  } else into.rejected.push({ source, message: parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ') });
}

interface DataFile {
  path: string;
  kind: 'json' | 'zip';
  mtimeMs: number;
}

/** What a file is to the import, by its name: a record, an export, or neither. */
const kindOf = (name: string): DataFile['kind'] | undefined => (name.endsWith('.json') ? 'json' : name.endsWith('.zip') ? 'zip' : undefined);

/**
 * `*.json` and `*.zip` files under `dir`, at any depth, following symbolic links (to files and to
 * directories); a directory reached twice (a link loop, or two links to one place) is read once.
 * Sorted by path so imports are deterministic.
 */
async function dataFiles(dir: string): Promise<DataFile[]> {
  const found: DataFile[] = [];
  const seenDirs = new Set<string>();
  const seenFiles = new Set<string>();
  const walk = async (path: string, depth: number): Promise<void> => {
    const real = await realpath(path);
    if (seenDirs.has(real) || depth > MAX_DEPTH) return;
    seenDirs.add(real);
    const entries = (await readdir(path, { withFileTypes: true })).filter(
      (e) => e.isDirectory() || e.isSymbolicLink() || (e.isFile() && kindOf(e.name) !== undefined),
    );
    entries.sort((a, b) => byCodeUnits(a.name, b.name));
    // stat follows links: a link to a zip is a zip, a link to a directory is walked; a dangling link is skipped.
    // A link's file is named by where it leads, so that a file reached twice is read once; any other file's path
    // under the directory's real path already is that.
    const limit = pLimit(FS_CONCURRENCY);
    const looked = await Promise.all(
      entries.map((entry) =>
        limit(async () => {
          const child = join(path, entry.name);
          const info = await stat(child).catch(() => undefined);
          const target = info?.isFile() ? (entry.isSymbolicLink() ? await realpath(child) : join(real, entry.name)) : undefined;
          return { child, kind: kindOf(entry.name), info, target };
        }),
      ),
    );
    for (const { child, kind, info, target } of looked) {
      if (!info) continue;
      if (info.isDirectory()) await walk(child, depth + 1);
      else if (info.isFile() && kind && target !== undefined) {
        if (seenFiles.has(target)) continue;
        seenFiles.add(target);
        found.push({ path: child, kind, mtimeMs: info.mtimeMs });
      }
    }
  };
  await walk(dir, 0);
  return found;
}

/** Every `*.json` record and `*.zip` export under `dir` (any depth, symbolic links followed). */
export async function importDirectory(dir: string, into: ImportResult = { records: [], rejected: [] }, reuse?: ReusableEntries): Promise<ImportResult> {
  let files: DataFile[];
  try {
    files = await dataFiles(dir);
  } catch (err) {
    throw new ChainError('BAD_INPUT', `cannot read OSV directory ${dir}: ${(err as Error).message}`, { cause: err });
  }
  // Record files are read up to FS_CONCURRENCY ahead of the one being parsed, and parsed in path order.
  const reads = new Map<number, Promise<string>>();
  let ahead = 0;
  for (const [i, file] of files.entries()) {
    for (; ahead < files.length && ahead < i + FS_CONCURRENCY; ahead++) {
      if (files[ahead]!.kind !== 'json') continue;
      const read = readFile(files[ahead]!.path, 'utf8');
      read.catch(() => undefined); // reported when its turn comes (or dropped with the import that failed first)
      reads.set(ahead, read);
    }
    if (file.kind === 'zip') await importZip(file.path, into, file.mtimeMs, reuse);
    else {
      let text: string;
      try {
        text = await reads.get(i)!;
      } catch (err) {
        throw new ChainError('BAD_INPUT', `cannot read OSV record ${file.path}: ${(err as Error).message}`, { cause: err });
      } finally {
        reads.delete(i);
      }
      parseRecord(text, file.path, into, file.mtimeMs);
    }
  }
  return into;
}

/** An OSV `all.zip` export: one JSON record per entry. `updatedAtMs`: when the export was current (default: the file's mtime). */
export async function importZip(
  file: string,
  into: ImportResult = { records: [], rejected: [] },
  updatedAtMs?: number,
  reuse?: ReusableEntries,
): Promise<ImportResult> {
  let zip: yauzl.ZipFile;
  try {
    const info = await stat(file);
    updatedAtMs ??= info.mtimeMs;
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded for an export, not on every scan's start-up
    const { openPromise, fromBufferPromise } = require('yauzl') as typeof yauzl;
    // Read whole: through a file descriptor, yauzl reads each of an export's 100,000+ central-directory
    // entries with its own read on the thread pool, and a load that reuses nearly every record (a daily
    // refresh) spent 25 of its 26 s waiting on those reads. A file past the bound is read piecewise.
    zip =
      info.size <= MAX_BUFFERED_ZIP_BYTES
        ? await fromBufferPromise(await readFile(file), { lazyEntries: true })
        : await openPromise(file, { lazyEntries: true });
  } catch (err) {
    throw new ChainError('BAD_INPUT', `${file} is not a readable zip archive: ${(err as Error).message}`, { cause: err });
  }
  try {
    for await (const entry of zip.eachEntry()) {
      if (!entry.fileName.endsWith('.json')) continue;
      const source = `${file}:${entry.fileName}`;
      if (entry.uncompressedSize > MAX_RECORD_BYTES) {
        into.rejected.push({ source, message: `record larger than ${MAX_RECORD_BYTES} bytes` });
        continue;
      }
      const known = reuse?.get(source);
      if (known && known.crc32 === entry.crc32 && known.size === entry.uncompressedSize) {
        into.records.push(known.record);
        noteEcosystems(known.record, updatedAtMs, into);
        (into.entries ??= new Map()).set(source, known);
        continue;
      }
      const stream = await zip.openReadStreamPromise(entry);
      const chunks: Buffer[] = [];
      for await (const chunk of stream) chunks.push(chunk as Buffer);
      const before = into.records.length;
      parseRecord(Buffer.concat(chunks).toString('utf8'), source, into, updatedAtMs);
      // Only a record that validated is remembered; a rejected entry is read (and reported) again.
      if (into.records.length > before)
        (into.entries ??= new Map()).set(source, { crc32: entry.crc32, size: entry.uncompressedSize, record: into.records[before]! });
    }
  } catch (err) {
    throw new ChainError('BAD_INPUT', `cannot read OSV archive ${file}: ${(err as Error).message}`, { cause: err });
  } finally {
    zip.close();
  }
  return into;
}
