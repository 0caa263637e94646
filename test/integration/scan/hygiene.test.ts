import assert from 'node:assert/strict';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { busyboxSpec, pushImage, writeOciImage, writeOciIndex } from '../../support/images';
import { testDataDir, useRegistry } from '../../support/services';
import { scannerFor } from './scan-support';

const PEM_KEY =
  '-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\n-----END OPENSSH PRIVATE KEY-----\n';

void describe('hygiene checks on images streamed from a registry', () => {
  let scanner: ReturnType<typeof scannerFor>;
  let host: string;
  before(async () => {
    const registry = await useRegistry();
    host = registry.host;
    scanner = scannerFor(registry.url);
  });

  void it('flags setuid files, shells, network tools, a missing USER and private keys', async () => {
    const dir = join(testDataDir(), 'risky');
    const spec = busyboxSpec({
      applets: ['sh', 'ls', 'wget', 'nc'],
      extra: [
        { path: 'usr', type: 'directory' },
        { path: 'usr/bin', type: 'directory' },
        { path: 'usr/bin/curl', content: '#!/bin/sh\necho curl\n', mode: 0o755 },
        { path: 'usr/bin/passwd', content: 'suid binary', mode: 0o4755 },
        { path: 'usr/bin/wall', content: 'sgid binary', mode: 0o2755 },
        { path: 'root', type: 'directory' },
        { path: 'root/id_ed25519', content: PEM_KEY, mode: 0o600 },
      ],
    });
    await writeOciImage(dir, spec, 'v1');
    await pushImage(dir, 'v1', `${host}/risky:v1`);
    const { summary } = await scanner.scan('risky', 'v1');
    const h = summary.hygiene;
    assert.deepEqual(h.setuidFiles.sort(), ['/usr/bin/passwd', '/usr/bin/wall']);
    assert.deepEqual(h.shells.sort(), ['/bin/busybox', '/bin/sh']);
    assert.deepEqual(h.networkTools.sort(), ['/bin/nc', '/bin/wget', '/usr/bin/curl']);
    assert.equal(h.user, '');
    assert.equal(h.runsAsRoot, true);
    assert.deepEqual(h.privateKeys, ['/root/id_ed25519']);
    assert.equal(h.layerCount, 1);
    assert.deepEqual(h.issues.map((i) => i.check).sort(), ['network-tool', 'private-key', 'root-user', 'setuid', 'shell']);
    assert.match(summary.digest, /^sha256:[a-f0-9]{64}$/);
  });

  void it('passes a hardened image: one static binary, non-root USER, no shell', async () => {
    const dir = join(testDataDir(), 'hardened');
    await writeOciImage(
      dir,
      {
        layers: [
          [
            { path: 'app', type: 'directory' },
            { path: 'app/server', content: Buffer.alloc(4096, 7), mode: 0o755 },
            { path: 'etc', type: 'directory' },
            { path: 'etc/passwd', content: 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532::/home/nonroot:/sbin/nologin\n' },
          ],
        ],
        user: 'nonroot',
        entrypoint: ['/app/server'],
      },
      'v1',
    );
    await pushImage(dir, 'v1', `${host}/hardened:v1`);
    const { summary } = await scanner.scan('hardened', 'v1');
    assert.deepEqual(summary.hygiene.issues, []);
    assert.equal(summary.hygiene.runsAsRoot, false);
    assert.equal(summary.hygiene.user, 'nonroot');
  });

  void it('names a USER that maps to uid 0 in /etc/passwd as root', async () => {
    const dir = join(testDataDir(), 'alias');
    await writeOciImage(dir, busyboxSpec({ user: 'toor', applets: [], extra: [{ path: 'etc/passwd', content: 'toor:x:0:0::/:/sbin/nologin\n' }] }), 'v1');
    await pushImage(dir, 'v1', `${host}/alias:v1`);
    const { summary } = await scanner.scan('alias', 'v1');
    assert.equal(summary.hygiene.runsAsRoot, true);
  });

  void it('applies whiteouts and opaque directories across layers and counts wasted bytes', async () => {
    const dir = join(testDataDir(), 'layers');
    const big = Buffer.alloc(100_000, 1);
    await writeOciImage(
      dir,
      {
        layers: [
          [
            { path: 'data', type: 'directory' },
            { path: 'data/big.bin', content: big },
            { path: 'data/keep.txt', content: 'keep' },
            { path: 'opt', type: 'directory' },
            { path: 'opt/old', type: 'directory' },
            { path: 'opt/old/a', content: 'aaaa' },
            { path: 'usr', type: 'directory' },
            { path: 'usr/bin', type: 'directory' },
            { path: 'usr/bin/su', content: 'suid', mode: 0o4755 },
          ],
          [
            { path: 'data/.wh.big.bin', content: '' },
            { path: 'opt/old/b', content: 'bbbb' },
            { path: 'opt/old/.wh..wh..opq', content: '' },
            { path: 'usr/bin/.wh.su', content: '' },
          ],
        ],
        user: '1000',
      },
      'v1',
    );
    await pushImage(dir, 'v1', `${host}/layers:v1`);
    const { summary } = await scanner.scan('layers', 'v1');
    assert.deepEqual(summary.hygiene.setuidFiles, [], 'the setuid file was deleted by a whiteout');
    assert.equal(summary.hygiene.wastedBytes, 100_000 + 4 + 4);
    assert.equal(summary.hygiene.layerCount, 2);
    assert.ok(summary.hygiene.efficiency < 0.01);
    assert.ok(summary.hygiene.issues.some((i) => i.check === 'efficiency'));
  });
});

void describe('multi-platform images', () => {
  void it('scans the requested platform and keys the result by the index digest', async () => {
    const registry = await useRegistry();
    const scanner = scannerFor(registry.url, undefined, { os: 'linux', architecture: 'amd64' });
    const dir = join(testDataDir(), 'multi');
    const amd = busyboxSpec({ user: '1000', applets: ['sh'] });
    const arm = { ...busyboxSpec({ applets: ['sh', 'wget'] }), architecture: 'arm64' };
    const index = await writeOciIndex(dir, [amd, arm], 'v1');
    await pushImage(dir, 'v1', `${registry.host}/multi:v1`);
    const { summary } = await scanner.scan('multi', index.digest);
    assert.equal(summary.digest, index.digest);
    assert.equal(summary.hygiene.user, '1000');
    assert.deepEqual(summary.hygiene.networkTools, []);
    assert.ok(await scanner.sbomStore.get(index.digest));
  });
});
