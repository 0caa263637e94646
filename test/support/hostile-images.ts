/**
 * Hostile layers and images, built without holding their expanded size: decompression bombs and
 * sparse-looking files as many identical gzip members (a valid gzip stream), 100,000-file tars, raw
 * tar headers for traversal and link tricks; pushed to a real registry with the project's client.
 */
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { type RegistryClient } from '../../src/registry';
import { rawTar, type RawTarEntry, tarHeader } from '../fuzz/seeds';

const MiB = 1024 ** 2;
const sha256 = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/**
 * A gzip layer whose tar holds one file of `size` zero bytes, from a few KiB of gzip: one member per
 * MiB of zeros (gunzip reads concatenated members as one stream).
 */
export function zeroFileLayer(name: string, size: number): Buffer {
  const zeroMember = gzipSync(Buffer.alloc(MiB), { level: 9 });
  const parts = [gzipSync(tarHeader({ name }, size))];
  for (let left = size; left > 0; left -= MiB) parts.push(left >= MiB ? zeroMember : gzipSync(Buffer.alloc(left)));
  const padding = (512 - (size % 512)) % 512;
  parts.push(gzipSync(Buffer.alloc(padding + 1024)));
  return Buffer.concat(parts);
}

/** A gzip layer of `count` one-byte files spread over directories of 1,000. */
export function manyFilesLayer(count: number): Buffer {
  const entries: RawTarEntry[] = [];
  for (let d = 0; d * 1000 < count; d++) {
    entries.push({ name: `data/d${d}/`, type: '5', mode: 0o755 });
    for (let i = d * 1000; i < Math.min(count, (d + 1) * 1000); i++) entries.push({ name: `data/d${d}/f${i}`, content: 'x' });
  }
  return gzipSync(rawTar(entries), { level: 1 });
}

export const tarLayer = (entries: RawTarEntry[]) => gzipSync(rawTar(entries));

export interface PushedImage {
  digest: string;
  layers: string[];
  config: string;
}

/** Uploads the layer blobs and an OCI manifest for them (amd64/linux config) under `tag`. */
export async function pushLayers(
  client: RegistryClient,
  repo: string,
  tag: string,
  layers: Buffer[],
  config: Record<string, unknown> = {},
): Promise<PushedImage> {
  const layerDigests: string[] = [];
  for (const blob of layers) {
    const digest = sha256(blob);
    await client.uploadBlob(repo, digest, blob);
    layerDigests.push(digest);
  }
  // diff_ids are not read by the scanner; the blob digests stand in for them.
  const configBytes = Buffer.from(
    JSON.stringify({ architecture: 'amd64', os: 'linux', config: { User: '1000' }, rootfs: { type: 'layers', diff_ids: layerDigests }, ...config }),
  );
  const configDigest = sha256(configBytes);
  await client.uploadBlob(repo, configDigest, configBytes);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: configDigest, size: configBytes.length },
      layers: layers.map((b, i) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: layerDigests[i], size: b.length })),
    }),
  );
  const digest = await client.putManifest(repo, tag, manifest, 'application/vnd.oci.image.manifest.v1+json');
  return { digest, layers: layerDigests, config: configDigest };
}

/** An OCI index over `children` (each with the given platform, or amd64/linux) pushed under `tag`. */
export async function pushIndex(
  client: RegistryClient,
  repo: string,
  tag: string,
  children: { digest: string; mediaType: string; size: number }[],
): Promise<string> {
  const bytes = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: children.map((c) => ({ ...c, platform: { architecture: 'amd64', os: 'linux' } })),
    }),
  );
  return client.putManifest(repo, tag, bytes, 'application/vnd.oci.image.index.v1+json');
}
