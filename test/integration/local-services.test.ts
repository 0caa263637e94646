import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { busyboxSpec, digestOf, inspectRaw, pushImage, writeOciImage } from '../support/images';
import { testDataDir, useRedis, useRegistry } from '../support/services';

describe('local services started by the project', () => {
  it('redis-server runs with AOF on and answers on its own port', async () => {
    const redis = await useRedis();
    const client = new Redis(redis.url);
    try {
      assert.equal(await client.config('GET', 'appendonly').then((r) => (r as string[])[1]), 'yes');
      await client.set('k', 'v');
      assert.equal(await client.get('k'), 'v');
    } finally {
      client.disconnect();
    }
  });

  it('docker-registry takes a skopeo push and returns the manifest byte for byte', async () => {
    const registry = await useRegistry({ name: 'src' });
    const layout = join(testDataDir(), 'busybox');
    const desc = await writeOciImage(layout, busyboxSpec({ user: '1000' }), 'v1');
    await pushImage(layout, 'v1', `${registry.host}/demo/busybox:v1`);
    const raw = await inspectRaw(`${registry.host}/demo/busybox@${desc.digest}`);
    assert.equal(digestOf(raw), desc.digest);
  });
});
