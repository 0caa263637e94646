/**
 * What the rescan matched for a digest, kept in Redis between its two steps (re-match on the scan
 * workers, re-gate on the chain workers) so the findings never pass through the workflow's history.
 */
import { type Redis } from 'ioredis';
import { ChainError } from '../errors';
import { type Finding, type OsvDataVersion } from './types';
import { type VexStatement } from './vex/statement';

export interface StoredRescan {
  digest: string;
  /** The OSV data the findings were matched against. */
  osvVersion: string;
  scannedAt: string;
  findings: Finding[];
  /** The data statement of the re-match (missing or stale data is judged by the re-gate as at the first scan). */
  vulnerabilityData?: OsvDataVersion;
  /** VEX attested on the image as this rescan read it (absent: unreadable, the gate's statements stay). */
  vex?: VexStatement[];
}

/** Long enough for any retry of the re-gate that follows; a lost entry only costs a re-match. */
export const RESCAN_FINDINGS_TTL_SECONDS = 2 * 24 * 3600;

export class RescanFindingsStore {
  constructor(
    private readonly redis: Redis,
    private readonly prefix = 'dchain:rescan:findings:',
  ) {}

  async put(rescan: StoredRescan): Promise<void> {
    await this.redis.set(this.key(rescan.digest, rescan.osvVersion), JSON.stringify(rescan), 'EX', RESCAN_FINDINGS_TTL_SECONDS);
  }

  async get(digest: string, osvVersion: string): Promise<StoredRescan | undefined> {
    const key = this.key(digest, osvVersion);
    const text = await this.redis.get(key);
    if (text === null) return undefined;
    try {
      const parsed = JSON.parse(text) as Partial<StoredRescan>;
      if (parsed.digest !== digest || parsed.osvVersion !== osvVersion || typeof parsed.scannedAt !== 'string' || !Array.isArray(parsed.findings))
        throw new Error('not a rescan of this digest and OSV data');
      return parsed as StoredRescan;
    } catch (cause) {
      throw new ChainError('BAD_INPUT', `rescanned findings ${key} are unreadable: ${(cause as Error).message}`, { cause, retryable: false });
    }
  }

  private key(digest: string, osvVersion: string): string {
    return `${this.prefix}${digest}:${osvVersion}`;
  }
}
