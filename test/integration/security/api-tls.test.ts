import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { copyFileSync, readFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { connect } from 'node:tls';
import { Agent, request } from 'undici';
import { parseConfig } from '../../../src/config/load';
import { producerConnection } from '../../../src/ingest';
import { createLogger } from '../../../src/log/logger';
import { type Api, buildApi } from '../../../workers/api';
import { freePort } from '../../../workers/local/managed-process';
import { onCleanup, testDataDir, useRedis } from '../../support/services';
import { createTestPki, type TestCertificate, type TestPki } from '../../support/tls-certs';

/** The certificate a new TLS connection to the port is served (its SHA-256 fingerprint). */
function servedFingerprint(port: number, ca: Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, ca, servername: 'localhost' }, () => {
      const fingerprint = socket.getPeerX509Certificate()?.fingerprint256 ?? '';
      socket.end();
      resolve(fingerprint);
    });
    socket.on('error', reject);
  });
}

const fingerprintOf = (cert: TestCertificate) => new X509Certificate(readFileSync(cert.certFile)).fingerprint256;

describe('the webhook API over HTTPS, renewed certificates served without a restart', () => {
  let pki: TestPki;
  let api: Api;
  let port: number;
  let certFile: string;
  let keyFile: string;
  let ca: Buffer;
  let first: TestCertificate;

  /** Replaces the served files the way a renewal does: each written beside and renamed over the old one. */
  const install = (cert: TestCertificate, key: TestCertificate = cert) => {
    copyFileSync(key.keyFile, `${keyFile}.new`);
    copyFileSync(cert.certFile, `${certFile}.new`);
    renameSync(`${keyFile}.new`, keyFile);
    renameSync(`${certFile}.new`, certFile);
  };

  before(async () => {
    const dir = testDataDir('dchain-api-tls-');
    pki = createTestPki(join(dir, 'pki'));
    ca = readFileSync(pki.caFile);
    first = pki.issue('api');
    certFile = join(dir, 'tls.crt');
    keyFile = join(dir, 'tls.key');
    install(first);
    const redis = await useRedis();
    port = await freePort();
    const config = parseConfig({
      dataDir: dir,
      redis: { url: redis.url },
      api: { host: '127.0.0.1', port, tls: { certFile, keyFile, reloadIntervalMs: 200 } },
    });
    const connection = producerConnection(redis.url);
    connection.on('error', () => undefined);
    api = await buildApi({ config, logger: createLogger({ level: 'silent' }), redis: connection, plugins: [] });
    await api.app.listen({ host: '127.0.0.1', port });
    // Before Redis stops (cleanups run last first).
    onCleanup(async () => {
      await api.app.close();
      connection.disconnect();
    });
  });

  it('serves HTTPS with the configured certificate, and no plain HTTP', async () => {
    assert.equal(await servedFingerprint(port, ca), fingerprintOf(first));
    const dispatcher = new Agent({ connect: { ca } });
    const res = await request(`https://127.0.0.1:${port}/livez`, { dispatcher });
    assert.deepEqual(await res.body.json(), { status: 'ok' });
    await dispatcher.close();
    await assert.rejects(request(`http://127.0.0.1:${port}/livez`, { headersTimeout: 3000, bodyTimeout: 3000 }).then((r) => r.body.text()));
  });

  it('with api.tls.caFile only clients with a certificate signed by that CA get through', async () => {
    const redis = await useRedis();
    const mtlsPort = await freePort();
    const config = parseConfig({ redis: { url: redis.url }, api: { host: '127.0.0.1', port: mtlsPort, tls: { certFile, keyFile, caFile: pki.caFile } } });
    const connection = producerConnection(redis.url);
    connection.on('error', () => undefined);
    const mtls = await buildApi({ config, logger: createLogger({ level: 'silent' }), redis: connection, plugins: [] });
    await mtls.app.listen({ host: '127.0.0.1', port: mtlsPort });
    onCleanup(async () => {
      await mtls.app.close();
      connection.disconnect();
    });
    const client = pki.issue('webhook-sender');
    const withCert = new Agent({ connect: { ca, cert: readFileSync(client.certFile), key: readFileSync(client.keyFile) } });
    assert.equal((await request(`https://127.0.0.1:${mtlsPort}/livez`, { dispatcher: withCert })).statusCode, 200);
    await withCert.close();
    const without = new Agent({ connect: { ca } });
    await assert.rejects(request(`https://127.0.0.1:${mtlsPort}/livez`, { dispatcher: without }).then((r) => r.body.text()));
    await without.close();
  });

  it('a renewed certificate (new key) is served to new connections; a pair that does not match keeps the previous one', async () => {
    const renewed = pki.issue('api');
    install(renewed);
    const deadline = Date.now() + 15_000;
    let served = await servedFingerprint(port, ca);
    while (served !== fingerprintOf(renewed) && Date.now() < deadline) {
      await delay(100);
      served = await servedFingerprint(port, ca);
    }
    assert.equal(served, fingerprintOf(renewed), 'the renewed certificate is served');

    // The certificate of a third pair with the renewed key: it cannot load, so the renewed one stays.
    const third = pki.issue('api');
    install(third, renewed);
    await delay(1_000);
    assert.equal(await servedFingerprint(port, ca), fingerprintOf(renewed));
    // Its key arrives: served.
    install(third);
    const until = Date.now() + 15_000;
    while ((await servedFingerprint(port, ca)) !== fingerprintOf(third) && Date.now() < until) await delay(100);
    assert.equal(await servedFingerprint(port, ca), fingerprintOf(third));
  });
});
