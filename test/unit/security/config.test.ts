import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { type RedisOptions } from 'ioredis';
import { applyEnvOverrides, parseConfig } from '../../../src/config/load';
import { type ChainError } from '../../../src/errors/chain-error';
import { describeRedis, redisTarget } from '../../../src/ingest';
import { connectionOptions } from '../../../workers/temporal/connect';
import { temporalDataConverter } from '../../../workers/temporal/security';

const dir = mkdtempSync(join(tmpdir(), 'dchain-security-config-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, content: string) => {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
};
const invalid = (raw: unknown, pattern: RegExp) =>
  assert.throws(
    () => parseConfig(raw),
    (err: ChainError) => err.code === 'CONFIG_INVALID' && pattern.test(err.message),
  );

describe('security settings in the configuration', () => {
  const ca = file('ca.crt', 'CA PEM');
  const crt = file('client.crt', 'CERT PEM');
  const key = file('client.key', 'KEY PEM');

  it('names what is wrong: half a client certificate pair, an unknown encryptWith, two passwords, an API certificate without key', () => {
    invalid({ temporal: { tls: { certFile: crt } } }, /temporal\.tls\.certFile: certFile and keyFile go together/);
    invalid({ redis: { tls: { keyFile: key } } }, /redis\.tls\.certFile: certFile and keyFile go together/);
    invalid({ temporal: { codec: { keys: [{ id: 'a', file: key }], encryptWith: 'b' } } }, /temporal\.codec\.encryptWith: encryptWith names no listed key/);
    invalid({ temporal: { codec: { keys: [] } } }, /temporal\.codec\.keys: at least one key/);
    invalid(
      {
        temporal: {
          codec: {
            keys: [
              { id: 'a', file: key },
              { id: 'a', file: key },
            ],
          },
        },
      },
      /key ids must be unique/,
    );
    invalid({ redis: { password: 'x', passwordFile: key } }, /set either redis\.password or redis\.passwordFile/);
    invalid({ api: { tls: { certFile: crt } } }, /api\.tls\.keyFile/);
    invalid({ temporal: { tls: { caFile: ca, verify: false } } }, /temporal\.tls: unknown key "verify"/);
  });

  it('a plain redis:// URL stays the URL; rediss:// with AUTH from a file and TLS files becomes options, password never in messages', () => {
    assert.equal(redisTarget(parseConfig({ redis: { url: 'redis://10.0.0.5:6380' } })), 'redis://10.0.0.5:6380');
    const passwordFile = file('redis-password', 's3cret-pw\n');
    const config = parseConfig({
      redis: {
        url: 'rediss://redis.internal:6390/2',
        username: 'dchain',
        passwordFile,
        tls: { caFile: ca, certFile: crt, keyFile: key, serverName: 'redis.example' },
      },
    });
    const target = redisTarget(config) as RedisOptions;
    assert.deepEqual(
      { ...target, tls: { ...target.tls, ca: String(target.tls?.ca), cert: String(target.tls?.cert), key: String(target.tls?.key) } },
      {
        host: 'redis.internal',
        port: 6390,
        db: 2,
        username: 'dchain',
        password: 's3cret-pw',
        tls: { ca: 'CA PEM', cert: 'CERT PEM', key: 'KEY PEM', servername: 'redis.example' },
      },
    );
    assert.equal(describeRedis(config), 'rediss://redis.internal:6390/2');
    // rediss:// alone: TLS with the system's roots.
    assert.deepEqual((redisTarget(parseConfig({ redis: { url: 'rediss://r:6379' } })) as RedisOptions).tls, {});
    assert.equal(describeRedis(parseConfig({ redis: { url: 'rediss://u:pw@r:6379' } })), 'rediss://r:6379');
  });

  it("DCHAIN_REDIS_PASSWORD is the URL's AUTH (over a password file), or the Sentinel data nodes'", () => {
    const env = { DCHAIN_REDIS_PASSWORD: 'from-env', DCHAIN_REDIS_USERNAME: 'svc' };
    const url = parseConfig(applyEnvOverrides({ redis: { url: 'redis://r:6379', passwordFile: join(dir, 'absent') } }, env));
    assert.deepEqual(
      { username: (redisTarget(url) as RedisOptions).username, password: (redisTarget(url) as RedisOptions).password },
      { username: 'svc', password: 'from-env' },
    );
    const sentinel = parseConfig(
      applyEnvOverrides(
        { redis: { sentinel: { name: 'm', sentinels: [{ host: 's', port: 26379 }] }, tls: { caFile: ca } } },
        { DCHAIN_REDIS_PASSWORD: 'node-pw' },
      ),
    );
    const target = redisTarget(sentinel) as RedisOptions & { sentinelTLS?: { ca?: unknown }; enableTLSForSentinelMode?: boolean };
    assert.equal(target.password, 'node-pw');
    assert.equal(String(target.sentinelTLS?.ca), 'CA PEM');
    assert.equal(target.enableTLSForSentinelMode, true);
  });

  it('an unreadable password or TLS file is named with the setting', () => {
    assert.throws(
      () => redisTarget(parseConfig({ redis: { url: 'redis://r:1', passwordFile: join(dir, 'nope') } })),
      (err: ChainError) => err.code === 'CONFIG_UNREADABLE' && /redis\.passwordFile .*nope/.test(err.message),
    );
    assert.throws(
      () => connectionOptions(parseConfig({ temporal: { address: 't:7233', tls: { caFile: join(dir, 'no-ca') } } })),
      /cannot read temporal\.tls\.caFile .*no-ca/,
    );
  });

  it('Temporal: mutual TLS options for the SDK, and the codec only when configured', () => {
    const config = parseConfig({
      temporal: { address: 'temporal.internal:7233', tls: { caFile: ca, certFile: crt, keyFile: key, serverName: 'temporal.example' } },
    });
    const options = connectionOptions(config);
    assert.equal(options.address, 'temporal.internal:7233');
    const tls = options.tls as { serverNameOverride: string; serverRootCACertificate: Buffer; clientCertPair: { crt: Buffer; key: Buffer } };
    assert.deepEqual(
      [tls.serverNameOverride, String(tls.serverRootCACertificate), String(tls.clientCertPair.crt), String(tls.clientCertPair.key)],
      ['temporal.example', 'CA PEM', 'CERT PEM', 'KEY PEM'],
    );
    assert.equal(connectionOptions(parseConfig({})).tls, undefined);
    assert.equal(temporalDataConverter(config), undefined);
    const codecKey = file('codec.key', Buffer.alloc(32, 7).toString('base64'));
    assert.equal(temporalDataConverter(parseConfig({ temporal: { codec: { keys: [{ id: 'k1', file: codecKey }] } } }))?.payloadCodecs?.length, 1);
  });
});
