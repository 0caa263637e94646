import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { parseConfig } from '../../../src/config/load';
import { type Config } from '../../../src/config/schema';
import { createLogger } from '../../../src/log/logger';
import { DecisionStore, evaluatePolicy, imageFactsSchema, type LoadedPolicy, parsePolicy } from '../../../src/policy';
import { admissionDepsFromConfig, allowedRegistries, ImageAdmission } from '../../../src/policy/admission';
import { answerReview } from '../../../src/policy/admission/review-handler';
import { generateKeyPair } from '../../../src/signing';
import { pushImage } from '../../support/images';
import { onCleanup, testDataDir, useRedis, useRegistry } from '../../support/services';
import { cosignSign, pod, pushSmallImage, review, selfSignedCert } from './admission-support';

/** A seeded shuffle (mulberry32), so a failing order can be replayed from its seed. */
function shuffle<T>(items: readonly T[], seed: number): T[] {
  let a = seed >>> 0;
  const random = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

/**
 * The verdict for an image never depends on what was asked before: one digest D lives signed in the
 * source and the mirror, unsigned in another mirror repository, and is named through an unconfigured
 * registry and docker.io. Every review, in any order and with any cache state, gets its cold answer.
 */
void describe('admission verdicts do not depend on the cache', { timeout: 300_000 }, async () => {
  const dir = testDataDir('dchain-admission-cache-');
  let config: Config;
  let policy: LoadedPolicy;
  let redis: Redis;
  let source: string;
  let mirror: string;
  let digest = '';
  let images: string[] = [];
  const logger = createLogger({ level: 'silent' });

  const fresh = () => new ImageAdmission(admissionDepsFromConfig(config, redis, logger, policy));
  const verdict = async (admission: ImageAdmission, image: string) => {
    const answer = await answerReview(review(`uid-${image}`, 'Pod', 'shop', pod([{ name: 'web', image }])), admission, 10_000);
    return answer?.allowed ? 'allowed' : `denied: ${answer?.status?.message ?? ''}`;
  };

  before(async () => {
    const [src, mir, redisServer, keys, tls] = await Promise.all([
      useRegistry({ name: 'source', dataDir: join(dir, 'source') }),
      useRegistry({ name: 'mirror', dataDir: join(dir, 'mirror') }),
      useRedis(join(dir, 'redis')),
      generateKeyPair('pw'),
      selfSignedCert(dir),
    ]);
    source = src.host;
    mirror = mir.host;
    redis = new Redis(redisServer.url);
    onCleanup(() => redis.disconnect());
    writeFileSync(join(dir, 'release.key'), keys.privateKeyPem, { mode: 0o600 });
    writeFileSync(join(dir, 'tls.crt'), tls.cert);
    writeFileSync(join(dir, 'tls.key'), tls.key);
    // The same content everywhere, so the same digest: the chain's copy of one image.
    digest = await pushSmallImage(dir, source, 'team/app', '1.0');
    // The same layout to the mirror, twice: the chain's signed copy, and other/app that holds D unsigned.
    await pushImage(join(dir, 'team_app-1.0'), '1.0', `${mirror}/team/app:1.0`);
    await pushImage(join(dir, 'team_app-1.0'), '1.0', `${mirror}/other/app:1.0`);
    await cosignSign(join(dir, 'release.key'), 'pw', `${source}/team/app@${digest}`);
    await cosignSign(join(dir, 'release.key'), 'pw', `${mirror}/team/app@${digest}`);

    policy = parsePolicy({
      apiVersion: 'policy.delivery-chain.dev/v1',
      kind: 'ImagePolicy',
      metadata: { name: 'cache-test' },
      mode: 'enforce',
      trustedKeys: [{ id: 'release', publicKey: keys.publicKeyPem }],
      rules: [{ name: 'baseline', provenance: { requireSignatures: { keys: ['release'] } } }],
    });
    const facts = imageFactsSchema.parse({
      registry: source,
      repository: 'team/app',
      digest,
      scannedAt: new Date().toISOString(),
      findings: [],
      hygiene: { user: '1000', sizeBytes: 1, layerCount: 1, efficiency: 1 },
    });
    await new DecisionStore(redis).record(facts, evaluatePolicy(facts, parsePolicy({ ...policy.policy, rules: [{ name: 'baseline' }] }), new Date()));

    config = parseConfig({
      registries: [
        { name: 'source', url: src.url },
        { name: 'mirror', url: mir.url },
      ],
      sources: [{ name: 'source', registry: 'source', secret: 'a-secret-of-sixteen-chars' }],
      sync: { targets: [{ registry: 'mirror' }] },
      policy: { admission: { tlsCertFile: join(dir, 'tls.crt'), tlsKeyFile: join(dir, 'tls.key') } },
    });
    images = [
      `${source}/team/app@${digest}`,
      `${mirror}/team/app@${digest}`,
      `${mirror}/other/app@${digest}`,
      `127.0.0.2:6495/demo/app@${digest}`,
      `docker.io/evil/app@${digest}`,
    ];
  });

  void it('lists the source and the sync targets as the allowed registries by default, and refuses others by name', async () => {
    assert.deepEqual(allowedRegistries(config), [source, mirror]);
    const admission = fresh();
    assert.match(
      await verdict(admission, `127.0.0.2:6495/demo/app@${digest}`),
      /registry 127\.0\.0\.2:6495 is not allowed \(images may come from 127\.0\.0\.1:\d+, 127\.0\.0\.1:\d+\)/,
    );
    assert.match(await verdict(admission, `docker.io/evil/app@${digest}`), /registry docker\.io is not allowed/);
  });

  void it('gives every review its cold-cache verdict, in random orders, with and without warm caches', async () => {
    const cold = new Map<string, string>();
    for (const image of images) cold.set(image, await verdict(fresh(), image));
    assert.equal(cold.get(images[0] as string), 'allowed');
    assert.equal(cold.get(images[1] as string), 'allowed');
    assert.match(cold.get(images[2] as string) ?? '', /other\/app@sha256:[0-9a-f]{64} is not signed by a trusted key/);
    assert.match(cold.get(images[3] as string) ?? '', /not allowed/);
    assert.match(cold.get(images[4] as string) ?? '', /not allowed/);

    const shared = fresh();
    for (let seed = 1; seed <= 12; seed++) {
      // Half the runs start cold, half on the cache the previous order left.
      const admission = seed % 2 ? fresh() : shared;
      const order = shuffle([...images, ...images], seed);
      for (const image of order) assert.equal(await verdict(admission, image), cold.get(image), `seed ${seed}, order ${order.join(' ')}: ${image}`);
      // Concurrent reviews share loads: they must not share answers across repositories.
      const together = await Promise.all(order.map((image) => verdict(admission, image)));
      together.forEach((v, i) => assert.equal(v, cold.get(order[i] as string), `seed ${seed}, concurrent: ${order[i]}`));
    }
  });
});
