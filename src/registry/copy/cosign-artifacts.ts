import { ChainError } from '../../errors';
import { type FetchedManifest } from '../client';
import { digestOf } from '../digest';
import { type Descriptor, isManifestList } from '../manifest';
import { cosignTag } from '../reference';
import { type CopySession } from './session';

const SUFFIXES = ['sig', 'att', 'sbom'] as const;

export interface CosignArtifact {
  suffix: (typeof SUFFIXES)[number];
  tag: string;
  /** Digest of the artifact manifest on the source. */
  digest: string;
}

/** The cosign tags (sha256-<hex>.sig/.att/.sbom) the source has for `digest`, looked up in parallel. */
export async function findCosignArtifacts(session: CopySession, digest: string): Promise<CosignArtifact[]> {
  const { source, sourceRepo } = session.route;
  const found = await Promise.all(
    SUFFIXES.map(async (suffix) => {
      const tag = cosignTag(digest, suffix);
      const head = await source.headManifest(sourceRepo, tag);
      return head ? { suffix, tag, digest: head.digest } : undefined;
    }),
  );
  return found.filter((a) => a !== undefined);
}

/**
 * Copies one cosign artifact. A tag the target lacks is copied byte for byte; a .sig/.att tag the
 * target has with other content is merged the way cosign itself appends a signature: the union of
 * both layer lists under a rebuilt config (less the attestations the source replaced). An SBOM is one document, so the source's replaces a
 * different one. Returns whether the target's tag changed.
 */
export async function copyCosignArtifact(session: CopySession, artifact: CosignArtifact): Promise<boolean> {
  const { target, targetRepo } = session.route;
  session.checkAborted();
  const onTarget = await target.headManifest(targetRepo, artifact.tag);
  if (onTarget?.digest === artifact.digest) return false;
  await session.copyManifest(artifact.digest);
  if (!onTarget || artifact.suffix === 'sbom') {
    // The HEAD above showed the tag missing or elsewhere: point it without asking again.
    const { bytes, mediaType } = await session.sourceManifest(artifact.digest);
    await target.putManifest(targetRepo, artifact.tag, bytes, mediaType);
    return true;
  }
  return mergeInto(
    session,
    artifact.tag,
    await session.sourceManifest(artifact.digest),
    await target.getManifest(targetRepo, artifact.tag),
    artifact.suffix === 'att',
  );
}

const PREDICATE_TYPE_ANNOTATION = 'predicateType';
const MAX_ENVELOPE_BYTES = 4 * 1024 * 1024;

/**
 * The key an attestation layer is replaced under: its predicate type and its statement's subject
 * name (`<source host>/<repository>`, as the chain signs it). Undefined when unreadable.
 */
async function statementKey(session: CopySession, side: 'source' | 'target', layer: Descriptor): Promise<string | undefined> {
  const type = layer.annotations?.[PREDICATE_TYPE_ANNOTATION];
  if (!type) return undefined;
  const { source, sourceRepo, target, targetRepo } = session.route;
  try {
    const blob =
      side === 'source'
        ? await source.getBlob(sourceRepo, layer.digest, { maxBytes: MAX_ENVELOPE_BYTES })
        : await target.getBlob(targetRepo, layer.digest, { maxBytes: MAX_ENVELOPE_BYTES });
    const envelope = JSON.parse(blob.toString('utf8')) as { payload?: string };
    const statement = JSON.parse(Buffer.from(envelope.payload ?? '', 'base64').toString('utf8')) as { subject?: Array<{ name?: string }> };
    const name = statement.subject?.[0]?.name;
    return name ? `${type}\0${name}` : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Target attestation layers the source replaced: same predicate type and subject name as a source
 * layer, no longer on the source (`cosign attest --replace` there, or the chain's re-run). Other
 * signers' attestations, and ones made on the target itself, keep their place.
 */
async function replacedOnSource(session: CopySession, from: Descriptor[], into: Descriptor[]): Promise<Set<string>> {
  const onSource = new Set(from.map((l) => l.digest));
  const sourceKeys = new Set((await Promise.all(from.map((l) => statementKey(session, 'source', l)))).filter((k) => k !== undefined));
  const replaced = new Set<string>();
  for (const layer of into) {
    if (onSource.has(layer.digest)) continue;
    const key = await statementKey(session, 'target', layer);
    if (key !== undefined && sourceKeys.has(key)) replaced.add(layer.digest);
  }
  return replaced;
}

async function mergeInto(session: CopySession, tag: string, from: FetchedManifest, into: FetchedManifest, attestations: boolean): Promise<boolean> {
  const { target, targetRepo } = session.route;
  if (isManifestList(from.manifest) || isManifestList(into.manifest)) {
    throw new ChainError('UNSUPPORTED_MEDIA_TYPE', `cannot merge cosign tag ${tag}: expected image manifests, found an index`, { details: { tag } });
  }
  const known = new Set(into.manifest.layers.map((l) => l.digest));
  const added = from.manifest.layers.filter((l) => !known.has(l.digest));
  if (added.length === 0) return false;
  const replaced = attestations ? await replacedOnSource(session, from.manifest.layers, into.manifest.layers) : new Set<string>();
  const layers: Descriptor[] = [...into.manifest.layers.filter((l) => !replaced.has(l.digest)), ...added];
  // cosign layers are uncompressed, so a layer's diff_id is its digest.
  const config = JSON.parse((await target.getBlob(targetRepo, into.manifest.config.digest, { maxBytes: 4 * 1024 * 1024 })).toString('utf8')) as Record<
    string,
    unknown
  >;
  config.rootfs = { type: 'layers', diff_ids: layers.map((l) => l.digest) };
  if (Array.isArray(config.history)) config.history = layers.map((_, i) => (config.history as unknown[])[i] ?? { created: '0001-01-01T00:00:00Z' });
  const configBytes = Buffer.from(JSON.stringify(config));
  const configDigest = digestOf(configBytes);
  await target.uploadBlob(targetRepo, configDigest, configBytes);
  const manifest = JSON.parse(into.bytes.toString('utf8')) as Record<string, unknown>;
  manifest.config = { ...into.manifest.config, digest: configDigest, size: configBytes.length };
  manifest.layers = layers;
  await target.putManifest(targetRepo, tag, Buffer.from(JSON.stringify(manifest)), into.mediaType);
  session.logger?.info({ tag, added: added.length, replaced: replaced.size, total: layers.length }, 'merged cosign artifacts with those already on the target');
  return true;
}
