/**
 * What each source-built digest was built from (its build request), so a rescan that turns a
 * deployed digest denied can build the same ref again. One record per digest, kept as long as the
 * decision store keeps decisions (no expiry).
 */
import { type Redis } from 'ioredis';
import { type BuildRequest, buildRequestSchema } from '../chain';

const KEY_PREFIX = 'dchain:build-record';

export class BuildRecordStore {
  constructor(private readonly redis: Redis) {}

  /** Records the request `digest` was built from (a retry writes the same record). */
  async record(digest: string, request: BuildRequest): Promise<void> {
    await this.redis.set(`${KEY_PREFIX}:${digest}`, JSON.stringify(request));
  }

  /** The request `digest` was built from; undefined when the chain did not build it (or the record is unreadable). */
  async get(digest: string): Promise<BuildRequest | undefined> {
    const raw = await this.redis.get(`${KEY_PREFIX}:${digest}`);
    if (raw === null) return undefined;
    try {
      const parsed = buildRequestSchema.safeParse(JSON.parse(raw));
      return parsed.success ? parsed.data : undefined;
    } catch {
      return undefined;
    }
  }
}
