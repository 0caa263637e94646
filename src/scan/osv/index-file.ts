/**
 * `all.idx` beside a downloaded `all.zip`: the export's records as validated at import, one JSON line each,
 * so that a process reading an unchanged export skips inflating every zip entry and validating every record
 * again (most of the time a load takes). The first line names the zip it was built from (size, mtime and
 * sha256) and the body's own length, line count and sha256.
 *
 * Fail closed: an index that does not match its zip (stale), or whose body does not match its header
 * (truncated, corrupt), is refused with a typed error and rebuilt from the zip; it is never read as fewer
 * records, which would look like fewer advisories.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile, rename, stat, writeFile } from 'node:fs/promises';
import { join, dirname } from 'node:path';
import { z } from 'zod';
import { ChainError } from '../../errors';
import { importZip, type ImportResult, noteEcosystems } from './importer';
import { type OsvRecord } from './schema';

const FORMAT = 'dchain-osv-index/1';

const headerSchema = z.strictObject({
  format: z.literal(FORMAT),
  zip: z.strictObject({ size: z.number().int().nonnegative(), mtimeMs: z.number(), sha256: z.string().regex(/^[a-f0-9]{64}$/) }),
  records: z.number().int().nonnegative(),
  bodyBytes: z.number().int().nonnegative(),
  bodySha256: z.string().regex(/^[a-f0-9]{64}$/),
  rejected: z.array(z.strictObject({ source: z.string(), message: z.string() })),
});
type IndexHeader = z.infer<typeof headerSchema>;

/** The index file of an export. */
export const indexFileOf = (zipFile: string): string => join(dirname(zipFile), 'all.idx');

async function zipIdentity(zipFile: string): Promise<IndexHeader['zip']> {
  const info = await stat(zipFile);
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(zipFile, { highWaterMark: 256 * 1024 })) hash.update(chunk as Buffer);
  return { size: info.size, mtimeMs: info.mtimeMs, sha256: hash.digest('hex') };
}

const refused = (file: string, why: string) => new ChainError('BAD_INPUT', `OSV index ${file} refused: ${why}`);

/**
 * The records of an index built from the zip `zip` identifies; throws BAD_INPUT when the index is missing,
 * stale or damaged in any way.
 */
export async function readIndex(file: string, zip: IndexHeader['zip']): Promise<{ records: OsvRecord[]; rejected: IndexHeader['rejected'] }> {
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (err) {
    throw refused(file, (err as Error).message);
  }
  const newline = bytes.indexOf(0x0a);
  if (newline === -1) throw refused(file, 'no header line (truncated)');
  let header: IndexHeader;
  try {
    header = headerSchema.parse(JSON.parse(bytes.toString('utf8', 0, newline)));
  } catch (err) {
    throw refused(file, `bad header: ${(err as Error).message.slice(0, 200)}`);
  }
  if (header.zip.size !== zip.size || header.zip.mtimeMs !== zip.mtimeMs || header.zip.sha256 !== zip.sha256)
    throw refused(file, 'built from another version of the export (stale)');
  const body = bytes.subarray(newline + 1);
  if (body.length !== header.bodyBytes) throw refused(file, `body is ${body.length} bytes, header says ${header.bodyBytes} (truncated)`);
  if (createHash('sha256').update(body).digest('hex') !== header.bodySha256) throw refused(file, 'body does not match its sha256 (corrupt)');
  const lines = body.length === 0 ? [] : body.toString('utf8').split('\n');
  if (lines.at(-1) === '') lines.pop();
  if (lines.length !== header.records) throw refused(file, `${lines.length} records, header says ${header.records}`);
  // The body's sha256 matched: these are the records validated when the index was written.
  const records = lines.map((line) => JSON.parse(line) as OsvRecord);
  return { records, rejected: header.rejected };
}

async function writeIndex(file: string, zip: IndexHeader['zip'], result: ImportResult): Promise<void> {
  const body = Buffer.from(result.records.map((r) => `${JSON.stringify(r)}\n`).join(''));
  const header: IndexHeader = {
    format: FORMAT,
    zip,
    records: result.records.length,
    bodyBytes: body.length,
    bodySha256: createHash('sha256').update(body).digest('hex'),
    rejected: result.rejected,
  };
  // Written beside and renamed: a reader sees the old index or the new one, never half of one.
  const partial = `${file}.partial`;
  await writeFile(partial, Buffer.concat([Buffer.from(`${JSON.stringify(header)}\n`), body]));
  await rename(partial, file);
}

/**
 * Imports a downloaded export through its index: read when it matches the zip, otherwise (missing, stale,
 * damaged: readIndex's BAD_INPUT) rebuilt from the zip first, so the records are always the zip's.
 */
export async function importZipIndexed(zipFile: string, into: ImportResult, updatedAtMs: number): Promise<ImportResult> {
  const file = indexFileOf(zipFile);
  const zip = await zipIdentity(zipFile).catch((err: unknown) => {
    throw new ChainError('BAD_INPUT', `${zipFile} is not readable: ${(err as Error).message}`, { cause: err });
  });
  try {
    const { records, rejected } = await readIndex(file, zip);
    for (const record of records) {
      into.records.push(record);
      noteEcosystems(record, updatedAtMs, into);
    }
    into.rejected.push(...rejected);
    return into;
  } catch (err) {
    if (!ChainError.is(err) || err.code !== 'BAD_INPUT') throw err;
  }
  const fresh = await importZip(zipFile, { records: [], rejected: [] }, updatedAtMs);
  // The index is a cache: failing to write it (read-only cache, full disk) costs the next load time, not this one's data.
  await writeIndex(file, zip, fresh).catch(() => undefined);
  for (const record of fresh.records) {
    into.records.push(record);
    noteEcosystems(record, updatedAtMs, into);
  }
  into.rejected.push(...fresh.rejected);
  return into;
}
