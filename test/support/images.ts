import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { pack } from 'tar-stream';
import { requireTool } from '../../workers/local/tools';

const run = promisify(execFile);

export interface ImageFile {
  path: string;
  content?: string | Buffer;
  /** Octal mode bits including setuid (0o4755) etc.; default 0o644 for files, 0o755 for dirs. */
  mode?: number;
  type?: 'file' | 'directory' | 'symlink';
  linkname?: string;
  uid?: number;
  gid?: number;
}

export interface ImageSpec {
  /** One entry a layer, bottom first. */
  layers: ImageFile[][];
  user?: string;
  entrypoint?: string[];
  cmd?: string[];
  env?: string[];
  labels?: Record<string, string>;
  architecture?: string;
  os?: string;
}

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: { architecture: string; os: string };
}

const sha256 = (data: Buffer) => `sha256:${createHash('sha256').update(data).digest('hex')}`;

async function layerTar(files: ImageFile[]): Promise<Buffer> {
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
      name: f.path.replace(/^\/+/, ''),
      mode: f.mode ?? (type === 'directory' ? 0o755 : 0o644),
      uid: f.uid ?? 0,
      gid: f.gid ?? 0,
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

/**
 * Writes a real OCI image layout (gzip layers, config, manifest, index.json) to `dir`
 * and returns the manifest descriptor. Deterministic: same spec, same digest.
 */
export async function writeOciImage(dir: string, spec: ImageSpec, tag = 'latest'): Promise<Descriptor> {
  const blobs = join(dir, 'blobs', 'sha256');
  mkdirSync(blobs, { recursive: true });
  const putBlob = (data: Buffer) => {
    const digest = sha256(data);
    writeFileSync(join(blobs, digest.slice(7)), data);
    return { digest, size: data.length };
  };
  const layers: Descriptor[] = [];
  const diffIds: string[] = [];
  for (const files of spec.layers) {
    const tar = await layerTar(files);
    diffIds.push(sha256(tar));
    layers.push({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', ...putBlob(gzipSync(tar, { level: 6 })) });
  }
  const config = {
    architecture: spec.architecture ?? 'amd64',
    os: spec.os ?? 'linux',
    created: '1970-01-01T00:00:00Z',
    config: {
      ...(spec.user !== undefined ? { User: spec.user } : {}),
      ...(spec.entrypoint ? { Entrypoint: spec.entrypoint } : {}),
      ...(spec.cmd ? { Cmd: spec.cmd } : {}),
      Env: spec.env ?? ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'],
      ...(spec.labels ? { Labels: spec.labels } : {}),
    },
    rootfs: { type: 'layers', diff_ids: diffIds },
    history: spec.layers.map(() => ({ created: '1970-01-01T00:00:00Z', created_by: 'delivery-chain test image' })),
  };
  const configDesc = { mediaType: 'application/vnd.oci.image.config.v1+json', ...putBlob(Buffer.from(JSON.stringify(config))) };
  const manifest = { schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: configDesc, layers };
  const manifestDesc: Descriptor = {
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    ...putBlob(Buffer.from(JSON.stringify(manifest))),
    platform: { architecture: config.architecture, os: config.os },
  };
  writeIndex(dir, [{ ...manifestDesc, annotations: { 'org.opencontainers.image.ref.name': tag } }]);
  return manifestDesc;
}

/** A multi-platform image: one manifest per spec, tied by an OCI image index tagged `tag`. */
export async function writeOciIndex(dir: string, specs: ImageSpec[], tag = 'latest'): Promise<Descriptor> {
  const manifests: Descriptor[] = [];
  for (const [i, spec] of specs.entries()) manifests.push(await writeOciImage(dir, spec, `platform-${i}`));
  const index = { schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests };
  const data = Buffer.from(JSON.stringify(index));
  const digest = sha256(data);
  writeFileSync(join(dir, 'blobs', 'sha256', digest.slice(7)), data);
  const desc = { mediaType: 'application/vnd.oci.image.index.v1+json', digest, size: data.length };
  writeIndex(dir, [{ ...desc, annotations: { 'org.opencontainers.image.ref.name': tag } }]);
  return desc;
}

function writeIndex(dir: string, manifests: unknown[]): void {
  writeFileSync(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  writeFileSync(join(dir, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests }));
}

/** `skopeo copy` of an OCI layout into a registry (plain HTTP on loopback); keeps digests as they are. */
export async function pushImage(layoutDir: string, tag: string, destination: string, extraArgs: string[] = []): Promise<void> {
  const skopeo = requireTool('skopeo', 'Debian package skopeo');
  await run(
    skopeo,
    ['copy', '--quiet', '--all', '--preserve-digests', '--dest-tls-verify=false', ...extraArgs, `oci:${layoutDir}:${tag}`, `docker://${destination}`],
    {
      timeout: 120_000,
    },
  );
}

/** `skopeo inspect --raw` of an image reference. */
export async function inspectRaw(reference: string, extraArgs: string[] = []): Promise<string> {
  const skopeo = requireTool('skopeo', 'Debian package skopeo');
  const { stdout } = await run(skopeo, ['inspect', '--raw', '--tls-verify=false', ...extraArgs, `docker://${reference}`], { timeout: 60_000 });
  return stdout;
}

/** A small real image: the static busybox binary with its applet links, optional USER. */
export function busyboxSpec(options: { user?: string; applets?: string[]; extra?: ImageFile[] } = {}): ImageSpec {
  const busybox = readFileSync('/bin/busybox');
  const applets = options.applets ?? ['sh', 'ls', 'cat', 'wget', 'nc'];
  return {
    layers: [
      [
        { path: 'bin', type: 'directory' },
        { path: 'bin/busybox', content: busybox, mode: 0o755 },
        ...applets.map((a): ImageFile => ({ path: `bin/${a}`, type: 'symlink', linkname: 'busybox' })),
        { path: 'etc', type: 'directory' },
        { path: 'etc/passwd', content: 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\n' },
        ...(options.extra ?? []),
      ],
    ],
    ...(options.user !== undefined ? { user: options.user } : {}),
    entrypoint: ['/bin/sh'],
  };
}

export const digestOf = (data: string | Buffer) => sha256(Buffer.isBuffer(data) ? data : Buffer.from(data));
