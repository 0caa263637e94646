/**
 * The OSV data a scanner matches against: loaded from a directory (JSON files and/or all.zip) or
 * downloaded, and swapped atomically on refresh so concurrent scans always see one whole data set.
 */
import { join } from 'node:path';
import { ChainError } from '../../errors/chain-error';
import { OsvDatabase } from './database';
import { downloadEcosystem } from './download';
import { importDirectory, importZip, type ImportResult } from './importer';

export interface OsvSourceOptions {
  /** Directory of OSV JSON files / all.zip exports. */
  directory?: string;
  /** Base URL of an OSV export to download from, with the ecosystems to fetch. */
  download?: { baseUrl: string; ecosystems: string[]; cacheDir: string };
  /** Refuse records that fail validation instead of skipping them (default true for directories). */
  strict?: boolean;
  /**
   * Data older than this is reloaded in the background on its next use, while the loaded data keeps
   * serving: a long-running scan worker picks up new advisories without a restart. Unset: never.
   */
  maxAgeMs?: number;
  /** Told when a background reload fails (the loaded data stays; it is tried again in 5 minutes, or maxAgeMs if shorter). */
  onBackgroundError?: (err: unknown) => void;
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

  constructor(private readonly options: OsvSourceOptions) {
    if (!options.directory && !options.download) throw new ChainError('CONFIG_INVALID', 'OSV source needs a directory or a download base URL');
  }

  /** The current database; loads it on first use, and starts a background reload once it is older than maxAgeMs. */
  async current(): Promise<OsvDatabase> {
    if (!this.db) return this.refresh();
    const { maxAgeMs } = this.options;
    if (maxAgeMs !== undefined && !this.loading && this.now() - this.loadedAt >= maxAgeMs) {
      this.refresh().catch((err: unknown) => {
        this.loadedAt = this.now() - maxAgeMs + Math.min(BACKGROUND_RETRY_MS, maxAgeMs);
        this.options.onBackgroundError?.(err);
      });
    }
    return this.db;
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
    const result: ImportResult = { records: [], rejected: [] };
    if (this.options.directory) await importDirectory(this.options.directory, result);
    if (this.options.download) {
      const { baseUrl, ecosystems, cacheDir } = this.options.download;
      for (const ecosystem of ecosystems) {
        const { file } = await downloadEcosystem(baseUrl, ecosystem, join(cacheDir));
        await importZip(file, result);
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
    this.db = new OsvDatabase(result.records);
    this.loadedAt = this.now();
    return this.db;
  }
}
