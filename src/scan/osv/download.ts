/**
 * Fetches per-ecosystem OSV exports (`<baseUrl>/<ecosystem>/all.zip`, the OSV bucket's layout) into
 * a cache directory with conditional requests (ETag and Last-Modified): an unchanged export (304) is
 * not downloaded again. Beside each export, `meta.json` records its validators and when the export
 * was last confirmed current: that instant, not the file's age, is how old the data is.
 */
import { createWriteStream } from 'node:fs';
import { mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type * as Undici from 'undici';
import { z } from 'zod';
import { ChainError } from '../../errors';
import { connectWithDeferredCa, DEFERRED_EXTRA_CA_CERTS } from '../../security/deferred-ca';

export interface DownloadResult {
  ecosystem: string;
  file: string;
  changed: boolean;
  /** When the export was last confirmed current upstream (ms since epoch). */
  checkedAt: number;
}

const metaSchema = z.object({ etag: z.string().optional(), lastModified: z.string().optional(), checkedAt: z.number() });
type ExportMeta = z.infer<typeof metaSchema>;

let deferredAgent: { file: string | undefined; agent: Undici.Agent | undefined } | undefined;

/**
 * With NODE_EXTRA_CA_CERTS deferred (security/deferred-ca.ts), an agent of the downloads' own that carries it, made
 * once; otherwise undefined and undici's global dispatcher, whose TLS already trusts what node loaded, serves.
 */
function deferredCaAgent(undici: typeof Undici, timeoutMs: number): Undici.Agent | undefined {
  const file = process.env[DEFERRED_EXTRA_CA_CERTS];
  if (!deferredAgent || deferredAgent.file !== file) {
    const connect = connectWithDeferredCa(undici, {}, timeoutMs);
    deferredAgent = { file, agent: typeof connect === 'function' ? new undici.Agent({ connect }) : undefined };
  }
  return deferredAgent.agent;
}

/** Where an ecosystem's export is cached, and its metadata file. */
export function cachedExport(cacheDir: string, ecosystem: string): { dir: string; file: string; metaFile: string } {
  const dir = join(cacheDir, ecosystem.replace(/[^A-Za-z0-9.:-]/g, '_'));
  return { dir, file: join(dir, 'all.zip'), metaFile: join(dir, 'meta.json') };
}

/** The cached export's metadata; a cache written before metadata existed counts from its file's mtime. */
export async function readExportMeta(cacheDir: string, ecosystem: string): Promise<ExportMeta | undefined> {
  const { file, metaFile } = cachedExport(cacheDir, ecosystem);
  try {
    return metaSchema.parse(JSON.parse(await readFile(metaFile, 'utf8')));
  } catch {
    const info = await stat(file).catch(() => undefined);
    if (!info) return undefined;
    const etag = (await readFile(join(cachedExport(cacheDir, ecosystem).dir, 'etag'), 'utf8').catch(() => '')).trim();
    return { checkedAt: info.mtimeMs, ...(etag ? { etag } : {}) };
  }
}

export async function downloadEcosystem(
  baseUrl: string,
  ecosystem: string,
  cacheDir: string,
  timeoutMs = 120_000,
  now: () => number = Date.now,
): Promise<DownloadResult> {
  const { dir, file, metaFile } = cachedExport(cacheDir, ecosystem);
  await mkdir(dir, { recursive: true });
  const cachedFile = await stat(file).catch(() => undefined);
  const meta = cachedFile ? await readExportMeta(cacheDir, ecosystem) : undefined;
  const url = `${baseUrl.replace(/\/+$/, '')}/${encodeURIComponent(ecosystem)}/all.zip`;
  const headers: Record<string, string> = {};
  if (meta?.etag) headers['if-none-match'] = meta.etag;
  if (meta?.lastModified) headers['if-modified-since'] = meta.lastModified;
  const startedAt = now();
  let res: Awaited<ReturnType<typeof Undici.request>>;
  // undici is loaded for a download only: a scan against data on disk never needs it, and it is start-up time.
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- lazy on purpose, see above
  const undici = require('undici') as typeof Undici;
  const dispatcher = deferredCaAgent(undici, timeoutMs);
  try {
    res = await undici.request(url, { headers, headersTimeout: timeoutMs, bodyTimeout: timeoutMs, ...(dispatcher ? { dispatcher } : {}) });
  } catch (err) {
    throw new ChainError('SERVICE_UNREACHABLE', `cannot fetch OSV export ${url}: ${(err as Error).message}`, { cause: err });
  }
  if (res.statusCode === 304 && meta) {
    await res.body.dump();
    await writeFile(metaFile, JSON.stringify({ ...meta, checkedAt: startedAt }));
    return { ecosystem, file, changed: false, checkedAt: startedAt };
  }
  if (res.statusCode !== 200) {
    await res.body.dump();
    throw new ChainError(res.statusCode === 404 ? 'NOT_FOUND' : 'TRANSIENT', `OSV export ${url} answered HTTP ${res.statusCode}`);
  }
  // Write beside the old file and rename: readers never see a half-written archive.
  const partial = `${file}.partial`;
  await pipeline(Readable.from(res.body), createWriteStream(partial));
  await rename(partial, file);
  const etag = res.headers.etag;
  const lastModified = res.headers['last-modified'];
  const written: ExportMeta = {
    checkedAt: startedAt,
    ...(typeof etag === 'string' ? { etag } : {}),
    ...(typeof lastModified === 'string' ? { lastModified } : {}),
  };
  await writeFile(metaFile, JSON.stringify(written));
  return { ecosystem, file, changed: true, checkedAt: startedAt };
}
