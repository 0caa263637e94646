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
}

export class OsvSource {
  private db: OsvDatabase | undefined;
  private lastImport: ImportResult | undefined;

  constructor(private readonly options: OsvSourceOptions) {
    if (!options.directory && !options.download) throw new ChainError('CONFIG_INVALID', 'OSV source needs a directory or a download base URL');
  }

  /** The current database; loads it on first use. */
  async current(): Promise<OsvDatabase> {
    return this.db ?? (await this.refresh());
  }

  /** Rejected records of the last import (empty when strict, which throws instead). */
  get rejected(): ImportResult['rejected'] {
    return this.lastImport?.rejected ?? [];
  }

  /** Re-reads the data and swaps it in only when the whole import succeeded. */
  async refresh(): Promise<OsvDatabase> {
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
    return this.db;
  }
}
