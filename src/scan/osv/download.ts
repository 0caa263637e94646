/**
 * Fetches per-ecosystem OSV exports (`<baseUrl>/<ecosystem>/all.zip`) into a cache directory with
 * conditional requests: an unchanged export (304) is not downloaded again.
 */
import { createWriteStream } from 'node:fs';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { request } from 'undici';
import { ChainError } from '../../errors/chain-error';

export { DEFAULT_OSV_EXPORT as DEFAULT_OSV_BASE_URL } from '../config-schema';

export interface DownloadResult {
  ecosystem: string;
  file: string;
  changed: boolean;
}

async function readEtag(file: string): Promise<string | undefined> {
  try {
    return (await readFile(file, 'utf8')).trim() || undefined;
  } catch {
    return undefined;
  }
}

export async function downloadEcosystem(baseUrl: string, ecosystem: string, cacheDir: string, timeoutMs = 120_000): Promise<DownloadResult> {
  const dir = join(cacheDir, ecosystem.replace(/[^A-Za-z0-9.:-]/g, '_'));
  await mkdir(dir, { recursive: true });
  const file = join(dir, 'all.zip');
  const etagFile = join(dir, 'etag');
  const etag = await readEtag(etagFile);
  const url = `${baseUrl.replace(/\/+$/, '')}/${encodeURIComponent(ecosystem)}/all.zip`;
  let res: Awaited<ReturnType<typeof request>>;
  try {
    res = await request(url, { headers: etag ? { 'if-none-match': etag } : {}, headersTimeout: timeoutMs, bodyTimeout: timeoutMs });
  } catch (err) {
    throw new ChainError('SERVICE_UNREACHABLE', `cannot fetch OSV export ${url}: ${(err as Error).message}`, { cause: err });
  }
  if (res.statusCode === 304) {
    await res.body.dump();
    return { ecosystem, file, changed: false };
  }
  if (res.statusCode !== 200) {
    await res.body.dump();
    throw new ChainError(res.statusCode === 404 ? 'NOT_FOUND' : 'TRANSIENT', `OSV export ${url} answered HTTP ${res.statusCode}`);
  }
  // Write beside the old file and rename: readers never see a half-written archive.
  const partial = `${file}.partial`;
  await pipeline(Readable.from(res.body), createWriteStream(partial));
  await rename(partial, file);
  const newEtag = res.headers.etag;
  await writeFile(etagFile, typeof newEtag === 'string' ? newEtag : '');
  return { ecosystem, file, changed: true };
}
