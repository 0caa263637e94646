/**
 * The bootstrap admin token of a local stack: created by `npm start` when the data directory has
 * none that still authenticates, written to `<dataDir>/admin-token` (mode 0600, read by the CLI by
 * default) and printed once, at creation. Revoke it (`dchain tokens revoke`) once real tokens exist.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ADMIN_POLICY } from '../../src/access';
import { TokenStore } from '../../src/access';
import { type Config } from '../../src/config';
import { connectRedis, redisTarget } from '../../src/ingest';

export const ADMIN_TOKEN_FILE = 'admin-token';

/** The token when it was created now (to print once), undefined when the existing one still works. */
export async function ensureBootstrapToken(config: Config, dataDir: string): Promise<{ token?: string; file: string }> {
  const file = join(dataDir, ADMIN_TOKEN_FILE);
  const redis = connectRedis(redisTarget(config), { lazyConnect: true, connectTimeout: 5000, maxRetriesPerRequest: 2 });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    const store = new TokenStore(redis);
    if (existsSync(file)) {
      const auth = await store.authenticate(readFileSync(file, 'utf8').trim());
      // A revoked token stays revoked: the operator meant it. Only a token Redis lost is replaced.
      if (auth.ok || auth.refusal !== 'unknown') return { file };
    }
    const { secret } = await store.create({ name: 'bootstrap-admin', policies: [ADMIN_POLICY] });
    writeFileSync(file, `${secret}\n`, { mode: 0o600 });
    return { token: secret, file };
  } finally {
    redis.disconnect();
  }
}
