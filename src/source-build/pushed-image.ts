import { ChainError } from '../errors';
import { isManifestList, type RegistryClient } from '../registry';

export interface PushedImage {
  digest: string;
  mediaType: string;
  /** One entry per platform manifest (one for a single-platform image). */
  platforms: Array<{ digest: string; os?: string; architecture?: string; variant?: string }>;
  /** Compressed size of all layers of all platforms. */
  sizeBytes: number;
  layerCount: number;
}

/**
 * The build stage's output for an image that was pushed rather than built here: the pushed
 * manifest, read by digest (the registry client verifies the bytes hash to it).
 */
export async function describePushedImage(client: RegistryClient, repository: string, digest: string): Promise<PushedImage> {
  const top = await client.getManifest(repository, digest);
  const platforms: PushedImage['platforms'] = [];
  let sizeBytes = 0;
  let layerCount = 0;
  const children = isManifestList(top.manifest) ? top.manifest.manifests : undefined;
  const images = children
    ? await Promise.all(children.map(async (d) => ({ desc: d, fetched: await client.getManifest(repository, d.digest) })))
    : [{ desc: undefined, fetched: top }];
  for (const { desc, fetched } of images) {
    const manifest = fetched.manifest;
    if (isManifestList(manifest)) throw new ChainError('UNSUPPORTED_MEDIA_TYPE', `nested index ${fetched.digest} in ${repository}@${digest}`);
    // Attestation entries in an index (unknown/unknown platforms) are not images of their own.
    if (desc?.platform?.os === 'unknown') continue;
    platforms.push({
      digest: fetched.digest,
      ...(desc?.platform
        ? { os: desc.platform.os, architecture: desc.platform.architecture, ...(desc.platform.variant ? { variant: desc.platform.variant } : {}) }
        : {}),
    });
    layerCount += manifest.layers.length;
    sizeBytes += manifest.layers.reduce((sum, l) => sum + l.size, 0);
  }
  return { digest: top.digest, mediaType: top.mediaType, platforms, sizeBytes, layerCount };
}
