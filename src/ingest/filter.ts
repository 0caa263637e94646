import picomatch from 'picomatch';
import { type IngestConfig, type WebhookSourceConfig } from '../config';
import { ChainError } from '../errors';
import { type PushNotice } from './formats/push-notice';
import { type ImagePushed, imagePushedSchema } from '../chain';

/** Why an event started no chain; also the `reason` label of the dropped-events metric. */
export type DropReason = 'blob' | 'pull' | 'mount' | 'delete' | 'other-action' | 'artifact' | 'own-sync' | 'excluded' | 'untagged';

export type Verdict = { accept: ImagePushed } | { drop: DropReason };

/** cosign's `sha256-<hex>.sig|.att|.sbom` tags and the referrers-API fallback tag `sha256-<hex>`. */
const ARTIFACT_TAG = /^sha256-[a-f0-9]{64}(?:\.[a-z]+)?$/;

/** Config or layer media types that mark a manifest as a signature, attestation or SBOM, not an image. */
const ARTIFACT_MEDIA_TYPES: ReadonlySet<string> = new Set([
  'application/vnd.oci.empty.v1+json',
  'application/vnd.dev.cosign.simplesigning.v1+json',
  'application/vnd.dev.sigstore.bundle.v0.3+json',
  'application/vnd.dsse.envelope.v1+json',
  'application/vnd.in-toto+json',
  'application/vnd.cncf.notary.signature',
  'application/vnd.cyclonedx+json',
  'application/spdx+json',
]);

export function isArtifactPush(notice: PushNotice): boolean {
  if (notice.artifactType !== undefined || notice.hasSubject === true) return true;
  if (notice.tags.some((t) => ARTIFACT_TAG.test(t))) return true;
  return (notice.referenceMediaTypes ?? []).some((t) => ARTIFACT_MEDIA_TYPES.has(t));
}

/**
 * Decides, for one source, which registry events start a chain: manifest pushes of images that
 * pass the repository patterns, not artifacts attached to images, not pushes by the project's sync.
 */
export function createEventFilter(source: WebhookSourceConfig, ingest: IngestConfig): (notice: PushNotice, sourceName?: string) => Verdict {
  const included = source.include.length ? picomatch(source.include) : () => true;
  const excluded = source.exclude.length ? picomatch(source.exclude) : () => false;
  return (notice, sourceName = source.name) => {
    if (notice.action !== 'push')
      return { drop: notice.action === 'pull' || notice.action === 'mount' || notice.action === 'delete' ? notice.action : 'other-action' };
    if (notice.target === 'blob') return { drop: 'blob' };
    if (isArtifactPush(notice)) return { drop: 'artifact' };
    if (notice.userAgent !== undefined && ingest.ignoreUserAgents.some((prefix) => notice.userAgent?.startsWith(prefix))) return { drop: 'own-sync' };
    if (notice.actor !== undefined && ingest.ignoreActors.includes(notice.actor)) return { drop: 'own-sync' };
    if (!included(notice.repository) || excluded(notice.repository)) return { drop: 'excluded' };
    if (notice.tags.length === 0 && !ingest.startUntagged) return { drop: 'untagged' };
    return { accept: toImagePushed(notice, source.registry, sourceName) };
  };
}

function toImagePushed(notice: PushNotice, registry: string, source: string): ImagePushed {
  const candidate = {
    registry,
    repository: notice.repository,
    digest: notice.digest,
    tags: notice.tags,
    ...(notice.mediaType ? { mediaType: notice.mediaType } : {}),
    pushedAt: notice.pushedAt,
    source,
    ...(notice.deliveryId ? { deliveryId: notice.deliveryId } : {}),
  };
  const result = imagePushedSchema.safeParse(candidate);
  if (!result.success) {
    const issue = result.error.issues[0];
    throw new ChainError('BAD_INPUT', `event for ${notice.repository}@${notice.digest}: ${issue?.path.join('.') ?? ''} is not ${issue?.message ?? 'valid'}`, {
      details: { issues: result.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })) },
    });
  }
  return result.data;
}
