/**
 * OSV data status for processes that hold no data themselves (the API's /healthz, `npm start`'s
 * banner, `dchain status`): every load of an OsvSource with a status file writes what it loaded,
 * and `readOsvStatus` reads it back with ages computed at the time of asking.
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { z } from 'zod';
import { type Config, durationMs } from '../../config';
import { type OsvDatabaseInfo } from './database';

const statusSchema = z.object({
  version: z.string(),
  importedAt: z.string(),
  records: z.number(),
  ecosystems: z.array(z.object({ ecosystem: z.string(), records: z.number(), updatedAt: z.string() })),
  errors: z.array(z.object({ ecosystem: z.string().optional(), source: z.string(), message: z.string() })),
});

export interface OsvDataStatus {
  /** ok: data loaded and younger than maxAge; stale: some ecosystem older; empty: no records; unknown: never loaded here. */
  state: 'ok' | 'stale' | 'empty' | 'unknown';
  version?: string;
  loadedAt?: string;
  records: number;
  /** Seconds since the oldest loaded ecosystem was current. */
  ageSeconds?: number;
  maxAgeSeconds: number;
  ecosystems: { ecosystem: string; records: number; updatedAt: string; ageSeconds: number; stale: boolean }[];
  /** Sources that could not be fetched or read at the last load. */
  errors: { ecosystem?: string; source: string; message: string }[];
  /** One line for banners and health checks. */
  message: string;
}

export const OSV_STATUS_FILE = 'osv-status.json';

export function osvStatusFile(config: Config): string {
  return join(resolve(config.dataDir), OSV_STATUS_FILE);
}

export async function writeOsvStatus(file: string, info: OsvDatabaseInfo): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  const body: z.infer<typeof statusSchema> = {
    version: info.version,
    importedAt: info.importedAt,
    records: info.records,
    ecosystems: info.ecosystems,
    errors: info.errors.slice(0, 50),
  };
  await writeFile(`${file}.tmp`, JSON.stringify(body, null, 2));
  await rename(`${file}.tmp`, file);
}

/** The OSV data the scan workers of this configuration last loaded, judged against scan.osv.maxAge. */
export async function readOsvStatus(config: Config, now = new Date()): Promise<OsvDataStatus> {
  const maxAgeSeconds = Math.round(durationMs(config.scan.osv.maxAge) / 1000);
  let raw: z.infer<typeof statusSchema>;
  try {
    raw = statusSchema.parse(JSON.parse(await readFile(osvStatusFile(config), 'utf8')));
  } catch {
    return { state: 'unknown', records: 0, maxAgeSeconds, ecosystems: [], errors: [], message: 'no OSV data loaded yet (no scan worker has loaded it)' };
  }
  const ecosystems = raw.ecosystems.map((e) => {
    const ageSeconds = Math.max(0, Math.round((now.getTime() - Date.parse(e.updatedAt)) / 1000));
    return { ...e, ageSeconds, stale: ageSeconds > maxAgeSeconds };
  });
  const stale = ecosystems.filter((e) => e.stale);
  const state = raw.records === 0 ? 'empty' : stale.length ? 'stale' : 'ok';
  const failed = raw.errors.length ? `; ${raw.errors.length} source(s) failed, first: ${raw.errors[0]!.message}` : '';
  const message =
    state === 'empty'
      ? `no OSV records loaded: every scan is denied for missing vulnerability data${failed}`
      : state === 'stale'
        ? `OSV data stale for ${stale.map((e) => e.ecosystem).join(', ')} (older than ${maxAgeSeconds}s): their images are denied${failed}`
        : `OSV data ${raw.version.slice(0, 19)}: ${raw.records} records, ${ecosystems.map((e) => e.ecosystem).join(', ')}${failed}`;
  return {
    state,
    version: raw.version,
    loadedAt: raw.importedAt,
    records: raw.records,
    ...(ecosystems.length ? { ageSeconds: Math.max(...ecosystems.map((e) => e.ageSeconds)) } : {}),
    maxAgeSeconds,
    ecosystems,
    errors: raw.errors,
    message,
  };
}

/**
 * One line for `npm start`'s banner: whether the configured OSV export can be reached (a HEAD of the
 * first ecosystem's export, bounded), and what scans do when it cannot.
 */
export async function osvDownloadBanner(config: Config, timeoutMs = 5000): Promise<string> {
  const { download, directory } = config.scan.osv;
  const dir = resolve(directory ?? join(config.dataDir, 'osv'));
  if (!download.enabled) return `OSV data: from ${dir} only (scan.osv.download off); images of ecosystems without records there are denied`;
  const url = `${download.baseUrl.replace(/\/+$/, '')}/${encodeURIComponent(download.ecosystems[0]!)}/all.zip`;
  try {
    const res = await fetch(url, { method: 'HEAD', signal: AbortSignal.timeout(timeoutMs) });
    if (res.ok) return `OSV data: downloading ${download.ecosystems.join(', ')} from ${download.baseUrl} (and ${dir})`;
    return `OSV data: CANNOT DOWNLOAD — ${url} answered HTTP ${res.status}; scans are denied for missing vulnerability data until exports are in ${dir}`;
  } catch (err) {
    const reason = (err as Error & { cause?: Error }).cause?.message ?? (err as Error).message;
    return `OSV data: CANNOT DOWNLOAD — ${download.baseUrl} unreachable (${reason}); scans are denied for missing vulnerability data until exports are in ${dir}`;
  }
}
