/**
 * `dchain demo push`: two small images built offline from files on this machine — the static
 * busybox binary, a dpkg status database and an npm package-lock — pushed straight into a registry
 * (layers and manifest written here, no container engine), so a new user sees the chain allow one
 * and block the other within a minute, without any upstream registry.
 *
 * - `demo/clean`: busybox under USER 1000, Debian 12 packages and npm packages with no open
 *   advisories: distributed (the built-in policy only warns about its shell and network tools).
 * - `demo/vulnerable`: the same busybox with the setuid bit, running as root, libc6 2.36-9 (before
 *   Debian's DSA-5514-1) and lodash 4.17.11 (CVE-2019-10744, CRITICAL, fixed in 4.17.12): blocked.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { pack } from 'tar-stream';
import { ChainError } from '../errors';
import { type RegistryClient } from '../registry';

interface DemoFile {
  path: string;
  content?: string | Buffer;
  mode?: number;
  type?: 'file' | 'directory' | 'symlink';
  linkname?: string;
}

interface DemoImage {
  repository: string;
  tag: string;
  files: DemoFile[];
  user: string;
}

export interface PushedDemoImage {
  repository: string;
  tag: string;
  digest: string;
  reference: string;
  expect: 'allowed' | 'blocked';
}

const MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const sha256 = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

const OS_RELEASE =
  'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\nVERSION="12 (bookworm)"\nVERSION_CODENAME=bookworm\nID=debian\n';

const dpkgEntry = (name: string, version: string, source?: string) =>
  [
    `Package: ${name}`,
    'Status: install ok installed',
    'Priority: required',
    'Section: libs',
    'Installed-Size: 1',
    'Maintainer: Debian <debian@example.org>',
    'Architecture: amd64',
    ...(source ? [`Source: ${source}`] : []),
    `Version: ${version}`,
    `Description: ${name}`,
    '',
  ].join('\n');

const lockfile = (deps: Record<string, string>) =>
  JSON.stringify({
    name: 'demo-app',
    version: '1.0.0',
    lockfileVersion: 3,
    packages: {
      '': { name: 'demo-app', version: '1.0.0', dependencies: deps },
      ...Object.fromEntries(Object.entries(deps).map(([n, v]) => [`node_modules/${n}`, { version: v, license: 'MIT' }])),
    },
  });

function busybox(): Buffer {
  for (const path of ['/bin/busybox', '/usr/bin/busybox']) {
    try {
      return readFileSync(path);
    } catch {
      // next
    }
  }
  throw new ChainError('PREREQUISITE_MISSING', 'dchain demo needs the static busybox binary: apt-get install busybox-static');
}

function base(bin: Buffer, setuid: boolean, dpkg: string, deps: Record<string, string>): DemoFile[] {
  return [
    { path: 'bin', type: 'directory' },
    { path: 'bin/busybox', content: bin, mode: setuid ? 0o4755 : 0o755 },
    ...['sh', 'ls', 'cat', 'wget', 'nc'].map((a): DemoFile => ({ path: `bin/${a}`, type: 'symlink', linkname: 'busybox' })),
    { path: 'etc', type: 'directory' },
    { path: 'etc/os-release', content: OS_RELEASE },
    { path: 'etc/passwd', content: 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\n' },
    { path: 'var', type: 'directory' },
    { path: 'var/lib', type: 'directory' },
    { path: 'var/lib/dpkg', type: 'directory' },
    { path: 'var/lib/dpkg/status', content: dpkg },
    { path: 'app', type: 'directory' },
    { path: 'app/package-lock.json', content: lockfile(deps) },
  ];
}

export function demoImages(): DemoImage[] {
  const bin = busybox();
  return [
    {
      repository: 'demo/clean',
      tag: 'v1',
      user: '1000',
      files: base(bin, false, [dpkgEntry('base-files', '12.4+deb12u5'), dpkgEntry('netbase', '6.4')].join('\n'), { 'left-pad': '1.3.0' }),
    },
    {
      repository: 'demo/vulnerable',
      tag: 'v1',
      user: '',
      files: base(
        bin,
        true,
        [dpkgEntry('base-files', '12.4+deb12u5'), dpkgEntry('libc6', '2.36-9', 'glibc'), dpkgEntry('libc-bin', '2.36-9', 'glibc')].join('\n'),
        { lodash: '4.17.11' },
      ),
    },
  ];
}

async function layerTar(files: DemoFile[]): Promise<Buffer> {
  const tar = pack();
  const chunks: Buffer[] = [];
  tar.on('data', (c: unknown) => chunks.push(c as Buffer));
  const done = new Promise<void>((resolve, reject) => {
    tar.on('end', resolve);
    tar.on('error', reject);
  });
  for (const f of files) {
    const type = f.type ?? 'file';
    const header = {
      name: f.path,
      mode: f.mode ?? (type === 'directory' ? 0o755 : 0o644),
      uid: 0,
      gid: 0,
      mtime: new Date(0),
      type,
      ...(f.linkname ? { linkname: f.linkname } : {}),
    };
    if (type === 'file') tar.entry(header, f.content ?? '');
    else tar.entry(header);
  }
  tar.finalize();
  await done;
  return Buffer.concat(chunks);
}

/** Builds one demo image (deterministic: same files, same digest) and pushes it under its tag. */
async function pushImage(client: RegistryClient, image: DemoImage): Promise<string> {
  const tar = await layerTar(image.files);
  const layer = gzipSync(tar, { level: 6 });
  const config = Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      created: '1970-01-01T00:00:00Z',
      config: { ...(image.user ? { User: image.user } : {}), Env: ['PATH=/bin'], Entrypoint: ['/bin/sh'] },
      rootfs: { type: 'layers', diff_ids: [sha256(tar)] },
      history: [{ created: '1970-01-01T00:00:00Z', created_by: 'dchain demo push' }],
    }),
  );
  await client.uploadBlob(image.repository, sha256(layer), layer);
  await client.uploadBlob(image.repository, sha256(config), config);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MANIFEST,
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(config), size: config.length },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: sha256(layer), size: layer.length }],
    }),
  );
  return client.putManifest(image.repository, image.tag, manifest, MANIFEST);
}

/** Pushes both demo images into `client`'s registry; the registry's notifications start their chains. */
export async function pushDemoImages(client: RegistryClient): Promise<PushedDemoImage[]> {
  const out: PushedDemoImage[] = [];
  for (const image of demoImages()) {
    const digest = await pushImage(client, image);
    out.push({
      repository: image.repository,
      tag: image.tag,
      digest,
      reference: `${client.host}/${image.repository}:${image.tag}`,
      expect: image.repository === 'demo/clean' ? 'allowed' : 'blocked',
    });
  }
  return out;
}
