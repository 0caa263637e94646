/**
 * Reads OSV records from a directory of JSON files or from per-ecosystem `all.zip` exports.
 * Every record is validated; invalid ones are reported by source name, never silently dropped.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import yauzl from 'yauzl';
import { ChainError } from '../../errors/chain-error';
import { type OsvRecord, osvRecordSchema } from './schema';

export interface ImportResult {
  records: OsvRecord[];
  /** Sources that are not valid OSV records, with the reason. */
  rejected: { source: string; message: string }[];
}

const MAX_RECORD_BYTES = 16 * 1024 * 1024;

function parseRecord(text: string, source: string, into: ImportResult): void {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    into.rejected.push({ source, message: `not JSON: ${(err as Error).message}` });
    return;
  }
  const parsed = osvRecordSchema.safeParse(json);
  if (parsed.success) into.records.push(parsed.data);
  else into.rejected.push({ source, message: parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ') });
}

async function* jsonFiles(dir: string): AsyncGenerator<string> {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* jsonFiles(path);
    else if (entry.isFile() && entry.name.endsWith('.json')) yield path;
  }
}

/** All `*.json` files under `dir` (recursively); `*.zip` files there are read as OSV exports too. */
export async function importDirectory(dir: string, into: ImportResult = { records: [], rejected: [] }): Promise<ImportResult> {
  try {
    for await (const file of jsonFiles(dir)) parseRecord(await readFile(file, 'utf8'), file, into);
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      if (entry.isFile() && entry.name.endsWith('.zip')) await importZip(join(dir, entry.name), into);
    }
  } catch (err) {
    if (err instanceof ChainError) throw err;
    throw new ChainError('BAD_INPUT', `cannot read OSV directory ${dir}: ${(err as Error).message}`, { cause: err });
  }
  return into;
}

/** An OSV `all.zip` export: one JSON record per entry. */
export async function importZip(file: string, into: ImportResult = { records: [], rejected: [] }): Promise<ImportResult> {
  let zip: yauzl.ZipFile;
  try {
    zip = await yauzl.openPromise(file, { lazyEntries: true });
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
      const stream = await zip.openReadStreamPromise(entry);
      const chunks: Buffer[] = [];
      for await (const chunk of stream) chunks.push(chunk as Buffer);
      parseRecord(Buffer.concat(chunks).toString('utf8'), source, into);
    }
  } catch (err) {
    throw new ChainError('BAD_INPUT', `cannot read OSV archive ${file}: ${(err as Error).message}`, { cause: err });
  } finally {
    zip.close();
  }
  return into;
}
