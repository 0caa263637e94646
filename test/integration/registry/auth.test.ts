import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ChainError } from '../../../src/errors/chain-error';
import { RegistryClient } from '../../../src/registry';
import { copyImage } from '../../../src/registry/copy';
import { requireTool } from '../../../workers/local/tools';
import { busyboxSpec, inspectRaw, pushImage, writeOciImage, writeOciIndex } from '../../support/images';
import { testDataDir, useRegistry } from '../../support/services';
import { useTokenServer } from '../../support/token-server';

const USER = 'chain';
const PASSWORD = 'correct horse battery';

void describe('registry authentication', async () => {
  const dir = testDataDir();
  const layout = join(dir, 'image');
  const image = await writeOciImage(layout, busyboxSpec(), 'v1');
  const skopeoCreds = [`--dest-creds=${USER}:${PASSWORD}`];

  const htpasswd = join(dir, 'htpasswd');
  execFileSync(requireTool('htpasswd', 'Debian package apache2-utils'), ['-Bbc', htpasswd, USER, PASSWORD], { stdio: 'ignore' });
  const basicRegistry = await useRegistry({ name: 'basic', dataDir: dir, auth: { kind: 'htpasswd', realm: 'test', path: htpasswd } });
  await pushImage(layout, 'v1', `${basicRegistry.host}/app/img:v1`, skopeoCreds);
  const tokens = await useTokenServer({ dataDir: dir, users: { [USER]: PASSWORD } });
  const tokenRegistry = await useRegistry({
    name: 'token',
    dataDir: dir,
    auth: { kind: 'token', realm: tokens.realm, service: tokens.service, issuer: tokens.issuer, rootCertBundle: tokens.rootCertBundle },
  });
  await pushImage(layout, 'v1', `${tokenRegistry.host}/app/img:v1`, skopeoCreds);

  void describe('htpasswd basic auth', () => {
    const registry = basicRegistry;

    void it('reads with the right password', async () => {
      const client = new RegistryClient({ url: registry.url, credentials: { username: USER, password: PASSWORD } });
      after(() => client.close());
      await client.ping();
      assert.equal((await client.getManifest('app/img', 'v1')).digest, image.digest);
    });

    void it('answers a wrong password and no credentials with UNAUTHORIZED', async () => {
      for (const credentials of [{ username: USER, password: 'wrong' }, undefined]) {
        const client = new RegistryClient({ url: registry.url, ...(credentials ? { credentials } : {}) });
        after(() => client.close());
        await assert.rejects(client.getManifest('app/img', 'v1'), (err) => ChainError.is(err, 'UNAUTHORIZED'));
      }
    });
  });

  void describe('token auth (Docker token spec)', () => {
    const registry = tokenRegistry;

    void it('fetches a token per scope once and reuses it', async () => {
      const client = new RegistryClient({ url: registry.url, credentials: { username: USER, password: PASSWORD } });
      after(() => client.close());
      tokens.requests.length = 0;
      for (let i = 0; i < 3; i++) assert.equal((await client.getManifest('app/img', 'v1')).digest, image.digest);
      assert.deepEqual(tokens.requests, [{ user: USER, scopes: ['repository:app/img:pull'] }]);
      const { bytes, mediaType } = await client.getManifest('app/img', 'v1');
      const { manifest } = await client.getManifest('app/img', 'v1');
      assert.ok('layers' in manifest);
      for (const blob of [manifest.config, ...manifest.layers]) assert.equal(await client.mountBlob('app/copy', blob.digest, 'app/img'), true);
      assert.equal(await client.putManifest('app/copy', 'v1', bytes, mediaType), image.digest);
      assert.ok(tokens.requests.some((r) => r.scopes.includes('repository:app/copy:pull,push') && r.scopes.includes('repository:app/img:pull')));
    });

    void it('refuses wrong credentials with UNAUTHORIZED and anonymous access with UNAUTHORIZED', async () => {
      const wrong = new RegistryClient({ url: registry.url, credentials: { username: USER, password: 'nope' } });
      const anonymous = new RegistryClient({ url: registry.url });
      after(() => Promise.all([wrong.close(), anonymous.close()]));
      await assert.rejects(wrong.getManifest('app/img', 'v1'), (err) => ChainError.is(err, 'UNAUTHORIZED'));
      await assert.rejects(anonymous.getManifest('app/img', 'v1'), (err) => ChainError.is(err, 'UNAUTHORIZED'));
    });
  });

  void it('copies a single-platform image and a multi-platform index from the basic-auth to the token-auth registry', async () => {
    const credentials = { username: USER, password: PASSWORD };
    const source = new RegistryClient({ url: basicRegistry.url, credentials });
    const target = new RegistryClient({ url: tokenRegistry.url, credentials });
    after(() => Promise.all([source.close(), target.close()]));
    const index = await writeOciIndex(join(dir, 'index'), [
      { layers: [[{ path: 'arch', content: 'amd64' }]], architecture: 'amd64' },
      { layers: [[{ path: 'arch', content: 'arm64' }]], architecture: 'arm64' },
    ]);
    await pushImage(join(dir, 'index'), 'latest', `${basicRegistry.host}/app/multi:latest`, skopeoCreds);
    const creds = [`--creds=${USER}:${PASSWORD}`];
    for (const [repo, digest] of [
      ['app/img', image.digest],
      ['app/multi', index.digest],
    ] as const) {
      const result = await copyImage({ source, sourceRepo: repo, target, targetRepo: `replica/${repo}`, digest });
      assert.ok(result.manifestsPushed >= 1);
      const [sourceRaw, targetRaw] = await Promise.all([
        inspectRaw(`${basicRegistry.host}/${repo}@${digest}`, creds),
        inspectRaw(`${tokenRegistry.host}/replica/${repo}@${digest}`, creds),
      ]);
      assert.equal(targetRaw, sourceRaw);
    }
  });
});
