/**
 * The OSV data a scanner matches against: loaded from a directory (JSON files and/or all.zip) or
 * downloaded, and swapped atomically on refresh so concurrent scans always see one whole data set.
 */
import { existsSync } from 'node:fs';
import { ChainError } from '../../errors';
import { OsvDatabase, type OsvLoadError } from './database';
import { cachedExport, downloadEcosystem, readExportMeta } from './download';
import { importZipIndexed } from './index-file';
import { importDirectory, type ImportResult } from './importer';
import { writeOsvStatus } from './status';

export interface OsvSourceOptions {
  /** Directory of OSV JSON files / all.zip exports. */
  directory?: string;
  /** Base URL of an OSV export to download from, with the ecosystems to fetch. */
  download?: { baseUrl: string; ecosystems: string[]; cacheDir: string };
  /** Refuse records that fail validation instead of skipping them (default true for directories). */
  strict?: boolean;
  /**
   * Data older than this is stale: scans say so and the gate denies (see coverage.ts). Loaded data is
   * reloaded in the background once half this old, on its next use, while it keeps serving, so a
   * long-running scan worker has new advisories before its data goes stale. Unset: never reloaded.
   */
  maxAgeMs?: number;
  /** Told when a background reload fails (the loaded data stays; it is tried again in 5 minutes, or half maxAgeMs if shorter). */
  onBackgroundError?: (err: unknown) => void;
  /** Where each load writes what it loaded (version, ecosystems, errors) for processes that hold no data: see readOsvStatus. */
  statusFile?: string;
  now?: () => number;
}

/** How long after a failed background reload the next one is tried. */
const BACKGROUND_RETRY_MS = 5 * 60_000;

export class OsvSource {
  private db: OsvDatabase | undefined;
  private lastImport: ImportResult | undefined;
  private loading: Promise<OsvDatabase> | undefined;
  /** When the data was loaded (or a background reload last failed, shifted to retry sooner). */
  private loadedAt = 0;
  /**
   * The databases this source built, by version, held weakly: the source never keeps one alive past
   * its use (a worker's fleet match cache holds the one the last rescan matched until the next
   * rescan matches, so a delta's plan can compare the two).
   */
  private readonly built = new Map<string, WeakRef<OsvDatabase>>();

  constructor(private readonly options: OsvSourceOptions) {
    if (!options.directory && !options.download) throw new ChainError('CONFIG_INVALID', 'OSV source needs a directory or a download base URL');
  }

  /** The current database; loads it on first use, and starts a background reload once it is older than maxAgeMs. */
  async current(): Promise<OsvDatabase> {
    if (!this.db) return this.refresh();
    const { maxAgeMs } = this.options;
    if (maxAgeMs !== undefined && !this.loading) {
      const reloadAfter = maxAgeMs / 2;
      if (this.now() - this.loadedAt >= reloadAfter) {
        this.refresh().catch((err: unknown) => {
          this.loadedAt = this.now() - reloadAfter + Math.min(BACKGROUND_RETRY_MS, reloadAfter);
          this.options.onBackgroundError?.(err);
        });
      }
    }
    return this.db;
  }

  /** A database this source built with `version` (OsvDatabase info.version), if it is still in memory. */
  recall(version: string): OsvDatabase | undefined {
    return this.built.get(version)?.deref();
  }

  /** The age past which the data is stale (scan.osv.maxAge), when configured. */
  get maxAgeMs(): number | undefined {
    return this.options.maxAgeMs;
  }

  /** Rejected records of the last import (empty when strict, which throws instead). */
  get rejected(): ImportResult['rejected'] {
    return this.lastImport?.rejected ?? [];
  }

  /** Re-reads the data and swaps it in only when the whole import succeeded; joins a reload already running. */
  refresh(): Promise<OsvDatabase> {
    this.loading ??= this.load().finally(() => {
      this.loading = undefined;
    });
    return this.loading;
  }

  private now(): number {
    return (this.options.now ?? Date.now)();
  }

  private async load(): Promise<OsvDatabase> {
    const result: ImportResult = { records: [], rejected: [], updatedAt: new Map() };
    const errors: OsvLoadError[] = [];
    // Zip entries unchanged since the last load are not read and validated again (see ReusableEntries).
    if (this.options.directory) await importDirectory(this.options.directory, result, this.lastImport?.entries);
    if (this.options.download) {
      const { baseUrl, ecosystems, cacheDir } = this.options.download;
      for (const ecosystem of ecosystems) {
        // An export that cannot be fetched falls back to the cached copy, as old as its last check:
        // the data statement of every scan then names the ecosystem as stale or missing (fail closed).
        let checkedAt: number | undefined;
        try {
          checkedAt = (await downloadEcosystem(baseUrl, ecosystem, cacheDir, undefined, () => this.now())).checkedAt;
        } catch (err) {
          errors.push({ ecosystem, source: baseUrl, message: (err as Error).message });
          checkedAt = (await readExportMeta(cacheDir, ecosystem))?.checkedAt;
        }
        const { file } = cachedExport(cacheDir, ecosystem);
        // Through all.idx: an unchanged export is not inflated and validated again on every load.
        if (checkedAt !== undefined && existsSync(file)) await importZipIndexed(file, result, checkedAt);
      }
    }
    const strict = this.options.strict ?? true;
    if (strict && result.rejected.length > 0) {
      const first = result.rejected[0]!;
      throw new ChainError('BAD_INPUT', `${result.rejected.length} invalid OSV record(s); first: ${first.source}: ${first.message}`, {
        details: { rejected: result.rejected.slice(0, 20) },
      });
    }
    this.lastImport = result;
    this.db = new OsvDatabase(result.records, new Date(this.now()), { ...(result.updatedAt ? { updatedAt: result.updatedAt } : {}), errors });
    this.loadedAt = this.now();
    for (const [version, ref] of this.built) if (ref.deref() === undefined) this.built.delete(version);
    this.built.set(this.db.info.version, new WeakRef(this.db));
    if (this.options.statusFile) await writeOsvStatus(this.options.statusFile, this.db.info).catch(() => undefined);
    return this.db;
  }
}
