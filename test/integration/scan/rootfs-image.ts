/**
 * Real root filesystems as test images: a debootstrap minbase Debian rootfs, cached between runs
 * (debootstrap takes minutes), turned into a single-layer OCI layout.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';

export const CACHE_DIR = process.env.DCHAIN_CACHE_DIR ?? join(homedir(), '.cache', 'delivery-chain');

/** The first http(s) mirror apt is configured with (deb822 .sources or one-line .list). */
export function aptMirror(): string | undefined {
  const files = [
    '/etc/apt/sources.list',
    ...(existsSync('/etc/apt/sources.list.d') ? readdirSync('/etc/apt/sources.list.d').map((f) => join('/etc/apt/sources.list.d', f)) : []),
  ];
  for (const file of files) {
    if (!existsSync(file)) continue;
    const text = readFileSync(file, 'utf8');
    const m = /^URIs:\s*(https?:\/\/\S+debian)\s*$/m.exec(text) ?? /^deb\s+(?:\[[^\]]*\]\s+)?(https?:\/\/\S+debian)\s/m.exec(text);
    if (m) return m[1];
  }
  return undefined;
}

/** Path of the cached rootfs tar, building it with debootstrap when missing; or why it cannot be had. */
export function debianRootfsTar(suite = 'bookworm'): { tar: string } | { skip: string } {
  const tar = join(CACHE_DIR, `debootstrap-${suite}.tar`);
  if (existsSync(tar)) return { tar };
  if (spawnSync('debootstrap', ['--version']).error) return { skip: 'debootstrap is not installed' };
  const mirror = aptMirror();
  if (!mirror) return { skip: 'no http(s) Debian mirror in /etc/apt/sources.list*' };
  const root = join(tmpdir(), `debootstrap-${suite}-${process.pid}`);
  const run = spawnSync('debootstrap', ['--variant=minbase', suite, root, mirror], { encoding: 'utf8', timeout: 20 * 60_000 });
  if (run.status !== 0) {
    rmSync(root, { recursive: true, force: true });
    return {
      skip: `debootstrap --variant=minbase ${suite} ${mirror} failed (${run.status ?? run.signal}): ${(run.stderr || run.stdout).trim().split('\n').slice(-3).join(' | ')}`,
    };
  }
  mkdirSync(CACHE_DIR, { recursive: true });
  execFileSync('tar', ['--numeric-owner', '-C', root, '-cf', `${tar}.partial`, '.']);
  renameSync(`${tar}.partial`, tar);
  rmSync(root, { recursive: true, force: true });
  return { tar };
}

async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return `sha256:${hash.digest('hex')}`;
}

/** A single-layer OCI layout from an uncompressed rootfs tar (the gzip layer is cached next to it). */
export async function ociLayoutFromTar(tar: string, dir: string, tag: string, config: { user?: string } = {}): Promise<void> {
  const gz = `${tar}.gz`;
  if (!existsSync(gz)) {
    await pipeline(createReadStream(tar), createGzip({ level: 1 }), createWriteStream(`${gz}.partial`));
    renameSync(`${gz}.partial`, gz);
  }
  const blobs = join(dir, 'blobs', 'sha256');
  mkdirSync(blobs, { recursive: true });
  const layerDigest = await sha256File(gz);
  execFileSync('cp', ['--reflink=auto', gz, join(blobs, layerDigest.slice(7))]);
  const { size } = statSync(gz);
  const put = (data: Buffer) => {
    const digest = `sha256:${createHash('sha256').update(data).digest('hex')}`;
    writeFileSync(join(blobs, digest.slice(7)), data);
    return { digest, size: data.length };
  };
  const cfg = put(
    Buffer.from(
      JSON.stringify({
        architecture: 'amd64',
        os: 'linux',
        config: {
          ...(config.user !== undefined ? { User: config.user } : {}),
          Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'],
          Cmd: ['bash'],
        },
        rootfs: { type: 'layers', diff_ids: [await sha256File(tar)] },
      }),
    ),
  );
  const manifest = put(
    Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...cfg },
        layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: layerDigest, size }],
      }),
    ),
  );
  writeFileSync(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  writeFileSync(
    join(dir, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', ...manifest, annotations: { 'org.opencontainers.image.ref.name': tag } }],
    }),
  );
}
