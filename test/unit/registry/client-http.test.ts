import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { type AddressInfo } from 'node:net';
import { after, it } from 'node:test';
import { ChainError } from '../../../src/errors/chain-error';
import { digestOf, MEDIA_TYPES, RegistryClient } from '../../../src/registry';

/**
 * Registry behaviours a single docker-registry does not show — eventual consistency right after a
 * push, expiring bearer tokens, lying digests — played by a small HTTP server.
 */
async function serve(handler: (req: IncomingMessage, res: ServerResponse, url: URL) => void): Promise<string> {
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => handler(req, res, new URL(req.url ?? '/', 'http://x')));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MEDIA_TYPES.ociIndex, manifests: [] }));
const digest = digestOf(manifest);
const fast = { retries: 4, baseDelayMs: 1, maxDelayMs: 5 };

void it('retries MANIFEST_UNKNOWN right after its own push, and only then', async () => {
  let gets = 0;
  const url = await serve((req, res, u) => {
    if (req.method === 'PUT') return void res.writeHead(201, { 'docker-content-digest': digest }).end();
    if (u.pathname.endsWith('/fresh') && ++gets < 3) return void res.writeHead(404).end('{"errors":[{"code":"MANIFEST_UNKNOWN"}]}');
    if (u.pathname.endsWith('/fresh')) return void res.writeHead(200, { 'content-type': MEDIA_TYPES.ociIndex, 'docker-content-digest': digest }).end(manifest);
    res.writeHead(404).end('{"errors":[{"code":"MANIFEST_UNKNOWN"}]}');
  });
  const client = new RegistryClient({ url, retry: fast });
  after(() => client.close());
  await client.putManifest('app', 'fresh', manifest, MEDIA_TYPES.ociIndex);
  assert.equal((await client.getManifest('app', 'fresh')).digest, digest);
  assert.equal(gets, 3);
  await assert.rejects(client.getManifest('app', 'never-pushed'), (err) => ChainError.is(err, 'NOT_FOUND'));
});

void it('refuses a manifest whose bytes do not match the digest the registry claims', async () => {
  const url = await serve((_req, res) =>
    res.writeHead(200, { 'content-type': MEDIA_TYPES.ociIndex, 'docker-content-digest': `sha256:${'0'.repeat(64)}` }).end(manifest),
  );
  const client = new RegistryClient({ url, retry: fast });
  after(() => client.close());
  await assert.rejects(client.getManifest('app', 'latest'), (err) => ChainError.is(err, 'DIGEST_MISMATCH') && !err.retryable);
  await assert.rejects(client.getManifest('app', `sha256:${'1'.repeat(64)}`), (err) => ChainError.is(err, 'DIGEST_MISMATCH'));
});

void it('fetches a bearer token from the challenge realm, caches it, and fetches a new one when the registry rejects it', async () => {
  let issued = 0;
  let accepted = 'none';
  const tokenRequests: string[] = [];
  const url = await serve((req, res, u) => {
    if (u.pathname === '/token') {
      tokenRequests.push(`${u.searchParams.get('service')} ${u.searchParams.getAll('scope').join(' ')} ${req.headers.authorization ?? ''}`);
      accepted = `t${++issued}`;
      return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token: accepted, expires_in: 300 }));
    }
    if (req.headers.authorization !== `Bearer ${accepted}`) {
      return void res.writeHead(401, { 'www-authenticate': `Bearer realm="http://${req.headers.host}/token",service="reg",scope="repository:app:pull"` }).end();
    }
    res.writeHead(200, { 'content-type': MEDIA_TYPES.ociIndex, 'docker-content-digest': digest }).end(manifest);
  });
  const client = new RegistryClient({ url, credentials: { username: 'u', password: 'p' }, retry: fast });
  after(() => client.close());
  await client.getManifest('app', 'latest');
  await client.getManifest('app', 'latest');
  assert.equal(issued, 1, 'token reused while valid');
  accepted = 'revoked';
  await client.getManifest('app', 'latest');
  assert.equal(issued, 2, 'a rejected token is replaced');
  assert.deepEqual(tokenRequests, Array(2).fill(`reg repository:app:pull Basic ${Buffer.from('u:p').toString('base64')}`));
});
