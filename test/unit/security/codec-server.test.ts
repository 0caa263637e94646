import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { type AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { defaultPayloadConverter } from '@temporalio/common';
import { createCodecServer } from '../../../src/security/codec-server';
import { ENCRYPTED_ENCODING, PayloadEncryption } from '../../../src/security/payload-encryption';

describe('codec server (Temporal remote codec protocol over the payload encryption)', () => {
  const encryption = new PayloadEncryption(new Map([['k1', randomBytes(32)]]), 'k1');
  const server = createCodecServer(encryption, { allowOrigins: ['http://127.0.0.1:8233'] });
  let url: string;
  before(async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const toJson = (p: { metadata?: Record<string, Uint8Array> | null; data?: Uint8Array | null }) => ({
    metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
    data: Buffer.from(p.data ?? new Uint8Array()).toString('base64'),
  });
  const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
    fetch(`${url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });

  it('decodes what the workers encrypted, and encodes what it is given', async () => {
    const [sealed] = await encryption.encode([defaultPayloadConverter.toPayload({ repository: 'demo/app' })]);
    const decoded = (await (await post('/decode', { payloads: [toJson(sealed!)] })).json()) as {
      payloads: Array<{ metadata: Record<string, string>; data: string }>;
    };
    assert.equal(Buffer.from(decoded.payloads[0]!.metadata.encoding!, 'base64').toString(), 'json/plain');
    assert.deepEqual(JSON.parse(Buffer.from(decoded.payloads[0]!.data, 'base64').toString()), { repository: 'demo/app' });
    const encoded = (await (await post('/encode', { payloads: decoded.payloads })).json()) as typeof decoded;
    assert.equal(Buffer.from(encoded.payloads[0]!.metadata.encoding!, 'base64').toString(), ENCRYPTED_ENCODING);
  });

  it("answers the Web UI's preflight for allowed origins only", async () => {
    const allowed = await fetch(`${url}/decode`, { method: 'OPTIONS', headers: { origin: 'http://127.0.0.1:8233', 'access-control-request-method': 'POST' } });
    assert.equal(allowed.status, 204);
    assert.equal(allowed.headers.get('access-control-allow-origin'), 'http://127.0.0.1:8233');
    assert.match(allowed.headers.get('access-control-allow-headers') ?? '', /x-namespace/);
    const other = await fetch(`${url}/decode`, { method: 'OPTIONS', headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' } });
    assert.equal(other.headers.get('access-control-allow-origin'), null);
  });

  it('names a bad request: not JSON, the wrong shape, an unknown path, a payload that does not decrypt', async () => {
    assert.equal((await post('/decode', 'not json')).status, 400);
    const shape = await post('/decode', { payloads: [{ data: 5 }] });
    assert.equal(shape.status, 400);
    assert.match(((await shape.json()) as { error: string }).error, /expected \{ payloads/);
    assert.equal((await post('/other', { payloads: [] })).status, 404);
    const bogus = {
      metadata: { encoding: Buffer.from(ENCRYPTED_ENCODING).toString('base64'), 'encryption-key-id': Buffer.from('k1').toString('base64') },
      data: Buffer.alloc(40).toString('base64'),
    };
    const res = await post('/decode', { payloads: [bogus] });
    assert.equal(res.status, 400);
    assert.match(((await res.json()) as { error: string }).error, /does not decrypt/);
  });
});
