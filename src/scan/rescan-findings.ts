/**
 * What the rescan matched for a digest, kept in Redis between its two steps (re-match on the scan
 * workers, re-gate on the chain workers) so the findings never pass through the workflow's history.
 */
import { type Redis } from 'ioredis';
import { z } from 'zod';
import { ChainError } from '../errors';
import { vulnerabilityDataProblemSchema } from './data-problem';
import { type Finding, type OsvDataVersion, SEVERITIES, type SeverityCounts } from './types';
import { type VexStatement, vexStatementSchema } from './vex/statement';

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
  /** Every finding by severity (the findings kept may be trimmed): for the notification of a batched rescan. */
  counts?: SeverityCounts;
}

/**
 * What the re-gate reads of an entry, checked where it leaves Redis: the gate trusts the findings it
 * is handed (those of the in-memory re-match are typed), so an entry read back must be of that type.
 * Other fields of a finding (its layer, summary…) pass as they are.
 */
const storedFindingSchema = z.looseObject({
  id: z.string().min(1),
  ids: z.array(z.string()).optional(),
  aliases: z.array(z.string()).default([]),
  package: z.looseObject({ name: z.string().min(1), version: z.string(), ecosystem: z.string(), purl: z.string(), layer: z.string() }),
  severity: z.enum(SEVERITIES),
  fixable: z.boolean(),
  fixedVersion: z.string().optional(),
  vendorSeverity: z.object({ source: z.string(), rating: z.string(), severity: z.enum(SEVERITIES) }).optional(),
  cvssScore: z.number().optional(),
  negligible: z.boolean().optional(),
  fixedIn: z.object({ name: z.string(), version: z.string(), kind: z.literal('source') }).optional(),
});
const storedRescanSchema = z.looseObject({
  digest: z.string(),
  osvVersion: z.string(),
  scannedAt: z.iso.datetime({ offset: true }),
  findings: z.array(storedFindingSchema),
  vulnerabilityData: z
    .looseObject({
      version: z.string(),
      records: z.number().int().nonnegative(),
      ageSeconds: z.number().nonnegative(),
      maxAgeSeconds: z.number().optional(),
      ecosystems: z.array(z.object({ ecosystem: z.string(), records: z.number(), updatedAt: z.string(), ageSeconds: z.number() })),
      problems: z.array(vulnerabilityDataProblemSchema),
    })
    .optional(),
  vex: z.array(vexStatementSchema).optional(),
});

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

  /** Many rescans in one round trip. */
  async putMany(rescans: readonly StoredRescan[]): Promise<void> {
    if (rescans.length === 0) return;
    const pipe = this.redis.pipeline();
    for (const r of rescans) pipe.set(this.key(r.digest, r.osvVersion), JSON.stringify(r), 'EX', RESCAN_FINDINGS_TTL_SECONDS);
    const results = await pipe.exec();
    const failed = results?.find(([err]) => err)?.[0];
    if (failed) throw new ChainError('TRANSIENT', `rescanned findings not stored: ${failed.message}`, { cause: failed });
  }

  /** Many rescans in one round trip (MGET); an entry is undefined when gone, an error when unreadable. */
  async getMany(digests: readonly string[], osvVersion: string): Promise<Map<string, StoredRescan | undefined | ChainError>> {
    const out = new Map<string, StoredRescan | undefined | ChainError>();
    if (digests.length === 0) return out;
    const texts = await this.redis.mget(...digests.map((d) => this.key(d, osvVersion)));
    digests.forEach((d, i) => {
      try {
        out.set(d, this.parse(texts[i] ?? null, d, osvVersion));
      } catch (err) {
        out.set(d, err as ChainError);
      }
    });
    return out;
  }

  async get(digest: string, osvVersion: string): Promise<StoredRescan | undefined> {
    return this.parse(await this.redis.get(this.key(digest, osvVersion)), digest, osvVersion);
  }

  private parse(text: string | null, digest: string, osvVersion: string): StoredRescan | undefined {
    const key = this.key(digest, osvVersion);
    if (text === null) return undefined;
    try {
      const parsed = storedRescanSchema.parse(JSON.parse(text));
      if (parsed.digest !== digest || parsed.osvVersion !== osvVersion) throw new Error('not a rescan of this digest and OSV data');
      // Checked as far as the gate reads it; the ecosystem names and the fields it does not read pass as they are.
      return parsed as unknown as StoredRescan;
    } catch (cause) {
      throw new ChainError('BAD_INPUT', `rescanned findings ${key} are unreadable: ${(cause as Error).message}`, { cause, retryable: false });
    }
  }

  private key(digest: string, osvVersion: string): string {
    return `${this.prefix}${digest}:${osvVersion}`;
  }
}
