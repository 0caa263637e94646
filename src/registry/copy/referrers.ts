import { type Descriptor, descriptorSchema } from '../manifest';
import { MEDIA_TYPES } from '../media-types';
import { fallbackReferrersTag } from '../reference';
import { type CopySession } from './session';

/**
 * Copies the manifests the source lists as referring to `digest` (OCI 1.1 subject) and makes the
 * target list them too: a registry with the referrers API indexes them itself on push; for one
 * without, the `sha256-<hex>` fallback index tag is merged with what the target already lists.
 * Returns the digests of the referrers copied.
 */
export async function copyReferrers(session: CopySession, digest: string, referrers: Descriptor[]): Promise<string[]> {
  const { target, targetRepo } = session.route;
  if (referrers.length === 0) return [];
  await Promise.all(referrers.map((referrer) => session.copyManifest(referrer.digest)));
  const listed = await target.referrers(targetRepo, digest);
  const known = new Set(listed.map((d) => d.digest));
  const missing = referrers.filter((d) => !known.has(d.digest));
  if (missing.length === 0) return referrers.map((d) => d.digest);
  // The target did not index them itself: maintain the fallback tag, keeping what it already lists.
  const existing = await target.fallbackReferrers(targetRepo, digest);
  const merged: Descriptor[] = [...existing, ...missing.filter((d) => !existing.some((e) => e.digest === d.digest)).map(plainDescriptor)];
  const index = { schemaVersion: 2, mediaType: MEDIA_TYPES.ociIndex, manifests: merged };
  await target.putManifest(targetRepo, fallbackReferrersTag(digest), Buffer.from(JSON.stringify(index)), MEDIA_TYPES.ociIndex);
  return referrers.map((d) => d.digest);
}

/** A descriptor with only the fields the referrers spec lists. */
function plainDescriptor(d: Descriptor): Descriptor {
  return descriptorSchema.parse({
    mediaType: d.mediaType,
    digest: d.digest,
    size: d.size,
    ...(d.artifactType !== undefined ? { artifactType: d.artifactType } : {}),
    ...(d.annotations !== undefined ? { annotations: d.annotations } : {}),
  });
}
