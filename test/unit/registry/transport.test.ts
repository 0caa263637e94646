import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { type AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { after, it } from 'node:test';
import { ChainError } from '../../../src/errors/chain-error';
import { RegistryTransport } from '../../../src/registry/transport';

/** A plain HTTP server answering from a script of statuses, to drive the retry and auth paths. */
async function scripted(
  answers: Array<{ status: number; headers?: Record<string, string> }>,
): Promise<{ url: string; seen: Array<{ auth?: string; ua?: string }> }> {
  const seen: Array<{ auth?: string; ua?: string }> = [];
  const server = createServer((req, res) => {
    seen.push({
      ...(req.headers.authorization ? { auth: req.headers.authorization } : {}),
      ...(req.headers['user-agent'] ? { ua: req.headers['user-agent'] } : {}),
    });
    const next = answers.shift() ?? { status: 500 };
    res.writeHead(next.status, next.headers).end(next.status >= 400 ? '{"errors":[{"code":"X","message":"scripted"}]}' : 'ok');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

const transport = (url: string, extra: Partial<ConstructorParameters<typeof RegistryTransport>[0]> = {}) => {
  const t = new RegistryTransport({
    baseUrl: url,
    name: 'test',
    timeoutMs: 2000,
    userAgent: 'ua-test/1',
    retry: { retries: 3, baseDelayMs: 1, maxDelayMs: 5 },
    ...extra,
  });
  after(() => t.close());
  return t;
};

void it('retries 503 and 429 with backoff, then succeeds, sending its user agent', async () => {
  const server = await scripted([{ status: 503 }, { status: 429, headers: { 'retry-after': '0' } }, { status: 200 }]);
  const res = await transport(server.url).send({ method: 'GET', path: '/v2/', scopes: [], what: 'ping', expect: [200] });
  await res.dump();
  assert.equal(res.status, 200);
  assert.equal(server.seen.length, 3);
  assert.ok(server.seen.every((s) => s.ua === 'ua-test/1'));
});

void it('gives up after the retries with TRANSIENT, and does not retry requests marked retries: 0', async () => {
  const server = await scripted([{ status: 502 }, { status: 502 }, { status: 502 }, { status: 502 }, { status: 502 }]);
  await assert.rejects(
    transport(server.url).send({ method: 'GET', path: '/v2/', scopes: [], what: 'ping', expect: [200] }),
    (err) => ChainError.is(err, 'TRANSIENT') && /scripted/.test(err.message),
  );
  assert.equal(server.seen.length, 4);
  await assert.rejects(transport(server.url).send({ method: 'PUT', path: '/x', scopes: [], what: 'put', expect: [201], retries: 0 }), (err) =>
    ChainError.is(err, 'TRANSIENT'),
  );
  assert.equal(server.seen.length, 5);
});

void it('answers basic challenges with the credentials, once', async () => {
  const server = await scripted([
    { status: 401, headers: { 'www-authenticate': 'Basic realm="r"' } },
    { status: 200 },
    { status: 401, headers: { 'www-authenticate': 'Basic realm="r"' } },
  ]);
  const t = transport(server.url, { credentials: { username: 'u', password: 'p' } });
  await (await t.send({ method: 'GET', path: '/v2/', scopes: [], what: 'ping', expect: [200] })).dump();
  assert.deepEqual(
    server.seen.map((s) => s.auth),
    [undefined, `Basic ${Buffer.from('u:p').toString('base64')}`],
  );
  await assert.rejects(t.send({ method: 'GET', path: '/v2/', scopes: [], what: 'ping', expect: [200] }), (err) => ChainError.is(err, 'UNAUTHORIZED'));
});

void it('maps connection refusal to SERVICE_UNREACHABLE after retrying', async () => {
  const server = await scripted([]);
  const url = server.url.replace(/:\d+$/, ':1');
  await assert.rejects(transport(url).send({ method: 'GET', path: '/v2/', scopes: [], what: 'ping', expect: [200] }), (err) =>
    ChainError.is(err, 'SERVICE_UNREACHABLE'),
  );
});

void it('sends a one-shot stream body once: a request that would need it again fails retryable instead', async () => {
  const server = await scripted([{ status: 401, headers: { 'www-authenticate': 'Basic realm="r"' } }, { status: 201 }]);
  const t = transport(server.url, { credentials: { username: 'u', password: 'p' } });
  await assert.rejects(
    t.send({ method: 'PUT', path: '/upload', scopes: [], what: 'upload', expect: [201], body: Readable.from([Buffer.from('blob')]), retries: 0 }),
    (err) => ChainError.is(err, 'TRANSIENT') && err.retryable && /fresh body/.test(err.message),
  );
  assert.equal(server.seen.length, 1);
});
