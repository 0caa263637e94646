import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type RequestListener } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ChainError } from '../../../src/errors/chain-error';
import { downloadEcosystem } from '../../../src/scan/osv';
import { OsvSource } from '../../../src/scan';
import { DEFERRED_EXTRA_CA_CERTS } from '../../../src/security/deferred-ca';
import { testDataDir } from '../../support/services';
import { createTestPki } from '../../support/tls-certs';
import { OSV_FIXTURES } from './scan-support';

void describe('OSV export download with conditional requests', () => {
  const dir = testDataDir();
  const zip = join(dir, 'npm-all.zip');
  const requests: IncomingHttpHeaders[] = [];
  let baseUrl: string;
  const serve: RequestListener = (req, res) => {
    requests.push(req.headers);
    if (req.url !== '/npm/all.zip') {
      res.writeHead(404).end();
      return;
    }
    const body = readFileSync(zip);
    const etag = `"${createHash('sha256').update(body).digest('hex').slice(0, 16)}"`;
    if (req.headers['if-none-match'] === etag) {
      res.writeHead(304, { etag }).end();
      return;
    }
    res.writeHead(200, { etag, 'content-type': 'application/zip', 'content-length': body.length }).end(body);
  };
  const server = createServer(serve);
  // The same exports over HTTPS, with a certificate only a test CA signed.
  const pki = createTestPki(join(dir, 'pki'));
  const issued = pki.issue('osv');
  const tlsServer = createHttpsServer({ cert: readFileSync(issued.certFile), key: readFileSync(issued.keyFile) }, serve);

  before(async () => {
    execFileSync('python3', [
      '-c',
      'import sys,zipfile,glob,os\nz=zipfile.ZipFile(sys.argv[1],"w",zipfile.ZIP_DEFLATED)\nfor f in glob.glob(sys.argv[2]+"/npm/*.json"): z.write(f, os.path.basename(f))\nz.close()',
      zip,
      OSV_FIXTURES,
    ]);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => {
    server.close();
    tlsServer.close();
  });

  void it('trusts the CA file a scan deferred from NODE_EXTRA_CA_CERTS, and not without it', async () => {
    await new Promise<void>((r) => tlsServer.listen(0, '127.0.0.1', r));
    const httpsUrl = `https://127.0.0.1:${(tlsServer.address() as AddressInfo).port}`;
    try {
      // Node loaded this process's NODE_EXTRA_CA_CERTS (if any) at start; the test CA is in neither.
      await assert.rejects(downloadEcosystem(httpsUrl, 'npm', join(dir, 'cache-tls')), /certificate/);
      process.env[DEFERRED_EXTRA_CA_CERTS] = pki.caFile;
      const got = await downloadEcosystem(httpsUrl, 'npm', join(dir, 'cache-tls'));
      assert.equal(got.changed, true);
      assert.deepEqual(readFileSync(got.file), readFileSync(zip));
    } finally {
      delete process.env[DEFERRED_EXTRA_CA_CERTS];
    }
  });

  void it('downloads once, then answers 304 without a body', async () => {
    const cache = join(dir, 'cache');
    const first = await downloadEcosystem(baseUrl, 'npm', cache);
    assert.equal(first.changed, true);
    const second = await downloadEcosystem(baseUrl, 'npm', cache);
    assert.equal(second.changed, false);
    assert.equal(requests[0]?.['if-none-match'], undefined);
    assert.match(String(requests.at(-1)?.['if-none-match']), /^"[a-f0-9]{16}"$/);
    assert.deepEqual(readFileSync(second.file), readFileSync(zip));
  });

  void it('feeds an OsvSource and names a missing export', async () => {
    const source = new OsvSource({ download: { baseUrl, ecosystems: ['npm'], cacheDir: join(dir, 'cache2') } });
    const db = await source.current();
    assert.equal(db.info.records, 6);
    assert.equal(db.lookup('npm', 'lodash').length, 4);
    await assert.rejects(
      downloadEcosystem(baseUrl, 'Nope', join(dir, 'cache3')),
      (e: unknown) => ChainError.is(e, 'NOT_FOUND') && /Nope\/all\.zip/.test(e.message),
    );
  });

  void it('writes all.idx beside the downloaded export; later loads read it, and a damaged or stale one is rebuilt, never read as fewer advisories', async () => {
    const cacheDir = join(dir, 'cache-index');
    const load = async () => (await new OsvSource({ download: { baseUrl, ecosystems: ['npm'], cacheDir } }).current()).lookup('npm', 'lodash').length;
    assert.equal(await load(), 4);
    const index = join(cacheDir, 'npm', 'all.idx');
    assert.ok(existsSync(index), 'index written beside npm/all.zip');
    const built = readFileSync(index);
    assert.equal(await load(), 4, 'read through the index');
    assert.deepEqual(readFileSync(index), built, 'an index that matches is kept');
    // Damaged: the last record's line cut off, the header left claiming it.
    writeFileSync(index, built.subarray(0, built.length - 50));
    assert.equal(await load(), 4, 'every record, from the zip');
    assert.deepEqual(readFileSync(index), built, 'rebuilt');
    // Stale: the header names another export (an index from an earlier download).
    const text = built.toString('utf8');
    const nl = text.indexOf('\n');
    const header = JSON.parse(text.slice(0, nl)) as { zip: { sha256: string } };
    header.zip.sha256 = '0'.repeat(64);
    writeFileSync(index, `${JSON.stringify(header)}${text.slice(nl)}`);
    assert.equal(await load(), 4);
    assert.deepEqual(readFileSync(index), built, 'rebuilt');
  });
});
