/** Where SBOMs are kept for rescans, keyed by image digest: Redis in the chain, memory in tests and the CLI. */
import { type Redis } from 'ioredis';
import { z } from 'zod';
import { ChainError } from '../../errors';
import { type SbomRef } from '../types';
import { cycloneDxSchema, type StoredScan } from './cyclonedx';
import { SHA256_DIGEST } from '../digest';

export interface SbomStore {
  put(scan: StoredScan): Promise<SbomRef>;
  get(digest: string): Promise<StoredScan | undefined>;
  /** Where the SBOM of `digest` is (or would be) kept. */
  ref(digest: string): SbomRef;
}

const storedScanSchema = z.looseObject({
  registry: z.string(),
  repository: z.string(),
  digest: z.string(),
  scannedAt: z.string(),
  os: z.looseObject({ id: z.string(), versionId: z.string(), prettyName: z.string().optional() }).optional(),
  hygiene: z.looseObject({}),
  sbom: cycloneDxSchema,
});

function parseStored(text: string, key: string): StoredScan {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new ChainError('INTERNAL', `stored SBOM ${key} is not JSON`, { cause: err });
  }
  const parsed = storedScanSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ChainError('INTERNAL', `stored SBOM ${key} is malformed: ${issue ? `${issue.path.join('.')}: ${issue.message}` : 'unknown shape'}`);
  }
  return parsed.data as unknown as StoredScan;
}

function checkDigest(digest: string): void {
  if (!SHA256_DIGEST.test(digest)) throw new ChainError('BAD_INPUT', `"${digest}" is not a sha256 image digest`);
}

export class RedisSbomStore implements SbomStore {
  constructor(
    private readonly redis: Redis,
    private readonly prefix = 'dchain:sbom:',
  ) {}

  async put(scan: StoredScan): Promise<SbomRef> {
    checkDigest(scan.digest);
    const ref = this.ref(scan.digest);
    await this.redis.set(ref.key, JSON.stringify(scan));
    return ref;
  }

  ref(digest: string): SbomRef {
    return { store: 'redis', key: `${this.prefix}${digest}`, digest, format: 'cyclonedx-1.6' };
  }

  async get(digest: string): Promise<StoredScan | undefined> {
    checkDigest(digest);
    const key = `${this.prefix}${digest}`;
    const text = await this.redis.get(key);
    return text === null ? undefined : parseStored(text, key);
  }

  /**
   * The SBOMs of many digests in one round trip (MGET), each read when its entry is called: stored,
   * absent (undefined), or the error that says why it cannot be read, so one bad record fails its
   * image, not the batch. Parsed one at a time, a page of 300 KB SBOMs is never all in memory at
   * once as objects (held together across the batch's awaits, they outlived the young generation and
   * made most of the rescan's garbage collection).
   */
  async getMany(digests: readonly string[]): Promise<Map<string, () => StoredScan | undefined | ChainError>> {
    const out = new Map<string, () => StoredScan | undefined | ChainError>();
    if (digests.length === 0) return out;
    for (const d of digests) checkDigest(d);
    const keys = digests.map((d) => `${this.prefix}${d}`);
    const texts = await this.redis.mget(...keys);
    digests.forEach((digest, i) => {
      const text = texts[i] ?? null;
      out.set(digest, () => {
        try {
          return text === null ? undefined : parseStored(text, keys[i]!);
        } catch (err) {
          return err instanceof ChainError ? err : new ChainError('INTERNAL', `stored SBOM ${keys[i]!} is unreadable`, { cause: err });
        }
      });
    });
    return out;
  }
}

export class MemorySbomStore implements SbomStore {
  private readonly scans = new Map<string, string>();

  put(scan: StoredScan): Promise<SbomRef> {
    checkDigest(scan.digest);
    this.scans.set(scan.digest, JSON.stringify(scan));
    return Promise.resolve(this.ref(scan.digest));
  }

  ref(digest: string): SbomRef {
    return { store: 'memory', key: digest, digest, format: 'cyclonedx-1.6' };
  }

  get(digest: string): Promise<StoredScan | undefined> {
    const text = this.scans.get(digest);
    return Promise.resolve(text === undefined ? undefined : parseStored(text, digest));
  }
}
