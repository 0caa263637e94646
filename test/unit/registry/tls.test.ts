import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:https';
import { type AddressInfo } from 'node:net';
import { after, it } from 'node:test';
import { ChainError } from '../../../src/errors/chain-error';
import { RegistryClient } from '../../../src/registry';
import { testDataDir } from '../../support/services';
import { selfSignedLoopbackCertificate } from '../../support/tls-certs';

/** An HTTPS endpoint answering the API version check, with a self-signed certificate for 127.0.0.1. */
async function tlsRegistryStub(): Promise<{ url: string; caFile: string }> {
  const dir = testDataDir();
  const { keyFile: key, certFile: cert } = selfSignedLoopbackCertificate(dir);
  const server = createServer({ key: readFileSync(key), cert: readFileSync(cert) }, (_req, res) => {
    res.writeHead(200, { 'docker-distribution-api-version': 'registry/2.0', 'content-type': 'application/json' }).end('{}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { url: `https://127.0.0.1:${(server.address() as AddressInfo).port}`, caFile: cert };
}

void it('trusts a registry through its CA bundle or insecure, and refuses it otherwise with a clear error', async () => {
  const stub = await tlsRegistryStub();
  const clients = [
    new RegistryClient({ url: stub.url, caFile: stub.caFile }),
    new RegistryClient({ url: stub.url, insecure: true }),
    new RegistryClient({ url: stub.url }),
  ];
  after(() => Promise.all(clients.map((c) => c.close())));
  await clients[0]!.ping();
  await clients[1]!.ping();
  await assert.rejects(clients[2]!.ping(), (err) => ChainError.is(err, 'SERVICE_UNREACHABLE') && !err.retryable && /caFile/.test(err.message));
});

void it('refuses an unreadable CA bundle as a configuration error', () => {
  assert.throws(
    () => new RegistryClient({ url: 'https://127.0.0.1:1', caFile: '/nonexistent/ca.pem' }),
    (err) => ChainError.is(err, 'CONFIG_INVALID'),
  );
});
