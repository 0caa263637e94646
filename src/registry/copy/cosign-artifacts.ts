import { ChainError } from '../../errors/chain-error';
import { type FetchedManifest } from '../client';
import { digestOf } from '../digest';
import { type Descriptor, isManifestList } from '../manifest';
import { cosignTag } from '../reference';
import { type CopySession } from './session';

const SUFFIXES = ['sig', 'att', 'sbom'] as const;

/**
 * Copies the cosign artifacts of `digest` (tags sha256-<hex>.sig/.att/.sbom). A tag the target lacks
 * is copied byte for byte; a .sig/.att tag the target has with other content is merged the way
 * cosign itself appends a signature: the union of both layer lists under a rebuilt config. An SBOM
 * is one document, so the source's replaces a different one. Returns the tags written.
 */
export async function copyCosignArtifacts(session: CopySession, digest: string): Promise<string[]> {
  const { source, sourceRepo, target, targetRepo } = session.route;
  const written: string[] = [];
  for (const suffix of SUFFIXES) {
    session.checkAborted();
    const tag = cosignTag(digest, suffix);
    const onSource = await source.headManifest(sourceRepo, tag);
    if (!onSource) continue;
    const onTarget = await target.headManifest(targetRepo, tag);
    if (onTarget?.digest === onSource.digest) continue;
    await session.copyManifest(onSource.digest);
    if (!onTarget || suffix === 'sbom') {
      const { bytes, mediaType } = await source.getManifest(sourceRepo, onSource.digest);
      await target.putManifest(targetRepo, tag, bytes, mediaType);
      written.push(tag);
      continue;
    }
    if (await mergeInto(session, tag, await source.getManifest(sourceRepo, onSource.digest), await target.getManifest(targetRepo, tag))) written.push(tag);
  }
  return written;
}

async function mergeInto(session: CopySession, tag: string, from: FetchedManifest, into: FetchedManifest): Promise<boolean> {
  const { target, targetRepo } = session.route;
  if (isManifestList(from.manifest) || isManifestList(into.manifest)) {
    throw new ChainError('UNSUPPORTED_MEDIA_TYPE', `cannot merge cosign tag ${tag}: expected image manifests, found an index`, { details: { tag } });
  }
  const known = new Set(into.manifest.layers.map((l) => l.digest));
  const added = from.manifest.layers.filter((l) => !known.has(l.digest));
  if (added.length === 0) return false;
  const layers: Descriptor[] = [...into.manifest.layers, ...added];
  // cosign layers are uncompressed, so a layer's diff_id is its digest.
  const config = JSON.parse((await target.getBlob(targetRepo, into.manifest.config.digest, { maxBytes: 4 * 1024 * 1024 })).toString('utf8')) as Record<string, unknown>;
  config.rootfs = { type: 'layers', diff_ids: layers.map((l) => l.digest) };
  if (Array.isArray(config.history)) config.history = layers.map((_, i) => (config.history as unknown[])[i] ?? { created: '0001-01-01T00:00:00Z' });
  const configBytes = Buffer.from(JSON.stringify(config));
  const configDigest = digestOf(configBytes);
  await target.uploadBlob(targetRepo, configDigest, configBytes);
  const manifest = JSON.parse(into.bytes.toString('utf8')) as Record<string, unknown>;
  manifest.config = { ...into.manifest.config, digest: configDigest, size: configBytes.length };
  manifest.layers = layers;
  await target.putManifest(targetRepo, tag, Buffer.from(JSON.stringify(manifest)), into.mediaType);
  session.logger?.info({ tag, added: added.length, total: layers.length }, 'merged cosign artifacts with those already on the target');
  return true;
}
