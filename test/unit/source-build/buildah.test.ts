import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { classifyBuildahFailure } from '../../../src/source-build/buildah';
import { authFile, registriesConf } from '../../../src/source-build/buildah-settings';
import { runsAsRoot, stripSetuidBits } from '../../../src/source-build/harden';
import { ToolFailure } from '../../../src/source-build/run-tool';
import { registrySchema } from '../../../src/config/schema';

const failure = (stderr: string) => new ToolFailure('buildah bud', 125, stderr, 'exit');

void describe('buildah failures', () => {
  void it('are permanent for Dockerfile errors and missing base images, retryable for registry trouble', () => {
    const cases: Array<[string, 'build' | 'push', string, boolean]> = [
      ['error building at STEP "RUN exit 3": while running runtime: exit status 3', 'build', 'BUILD_FAILED', false],
      [
        'Error: creating build container: initializing source docker://127.0.0.1:5000/base:v9: reading manifest v9 in 127.0.0.1:5000/base: manifest unknown',
        'build',
        'BUILD_FAILED',
        false,
      ],
      [
        'Error: creating build container: pinging container registry 127.0.0.1:5999: Get "http://127.0.0.1:5999/v2/": dial tcp 127.0.0.1:5999: connect: connection refused',
        'build',
        'REGISTRY_ERROR',
        true,
      ],
      ['Error: writing blob: initiating layer upload: received unexpected HTTP status: 503 Service Unavailable', 'push', 'REGISTRY_ERROR', true],
      ['Error: trying to reuse blob: unauthorized: authentication required', 'push', 'UNAUTHORIZED', false],
    ];
    for (const [stderr, stage, code, retryable] of cases) {
      const err = classifyBuildahFailure(failure(stderr), stage);
      assert.deepEqual([err.code, err.retryable], [code, retryable], stderr);
    }
    assert.equal(classifyBuildahFailure(new ToolFailure('buildah bud', null, '', 'timeout'), 'build').retryable, true);
  });
});

void describe('buildah settings', () => {
  const reg = (v: Record<string, unknown>) => registrySchema.parse(v);
  void it('skips TLS verification only for plain-HTTP or insecure registries', () => {
    const conf = registriesConf(
      [
        reg({ name: 'a', url: 'http://127.0.0.1:5000' }),
        reg({ name: 'b', url: 'https://secure.example' }),
        reg({ name: 'c', url: 'https://self.signed:8443', insecure: true }),
      ],
      ['docker.io'],
    );
    assert.match(conf, /unqualified-search-registries = \["docker.io"\]/);
    assert.match(conf, /location = "127.0.0.1:5000"\ninsecure = true/);
    assert.match(conf, /location = "self.signed:8443"\ninsecure = true/);
    assert.doesNotMatch(conf, /secure.example/);
  });

  void it('writes credentials in containers-auth.json form', () => {
    const auth = JSON.parse(
      authFile([
        reg({ name: 'a', url: 'https://r.example', credentials: { username: 'u', password: 'p:w' } }),
        reg({ name: 'b', url: 'https://t.example', credentials: { token: 'tok' } }),
        reg({ name: 'c', url: 'https://anon.example' }),
      ]),
    ) as { auths: Record<string, Record<string, string>> };
    assert.deepEqual(auth.auths, { 'r.example': { auth: Buffer.from('u:p:w').toString('base64') }, 't.example': { identitytoken: 'tok' } });
  });
});

void describe('hardening a mounted root filesystem', () => {
  const root = mkdtempSync(join(tmpdir(), 'dchain-harden-'));
  after(() => rmSync(root, { recursive: true, force: true }));

  void it('clears setuid/setgid on regular files only and reports their image paths', async () => {
    mkdirSync(join(root, 'usr/bin'), { recursive: true });
    mkdirSync(join(root, 'srv/shared'), { recursive: true });
    mkdirSync(join(root, 'etc'), { recursive: true });
    for (const [path, mode] of [
      ['usr/bin/passwd', 0o4755],
      ['usr/bin/wall', 0o2755],
      ['usr/bin/both', 0o6711],
      ['usr/bin/plain', 0o755],
      ['tmpfile', 0o1644],
    ] as const) {
      writeFileSync(join(root, path), 'x');
      chmodSync(join(root, path), mode);
    }
    chmodSync(join(root, 'srv/shared'), 0o2775);
    symlinkSync('passwd', join(root, 'usr/bin/link'));
    assert.deepEqual(await stripSetuidBits(root), ['/usr/bin/both', '/usr/bin/passwd', '/usr/bin/wall']);
    const mode = (p: string) => statSync(join(root, p)).mode & 0o7777;
    assert.deepEqual(
      [mode('usr/bin/passwd'), mode('usr/bin/wall'), mode('usr/bin/both'), mode('usr/bin/plain'), mode('tmpfile'), mode('srv/shared')],
      [0o755, 0o755, 0o711, 0o755, 0o1644, 0o2775],
    );
    assert.deepEqual(await stripSetuidBits(root), []);
  });

  void it("resolves USER names through the image's own /etc/passwd", async () => {
    writeFileSync(join(root, 'etc/passwd'), 'root:x:0:0::/root:/bin/sh\ntoor:x:0:0::/:/bin/sh\napp:x:1000:1000::/app:/bin/sh\n');
    assert.equal(await runsAsRoot(root, ''), true);
    assert.equal(await runsAsRoot(root, 'toor'), true);
    assert.equal(await runsAsRoot(root, 'app'), false);
    assert.equal(await runsAsRoot(root, '1000:1000'), false);
  });
});
