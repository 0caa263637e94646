import { ChainError } from '../../errors';
import { assertDigest } from '../digest';
import { assertRepository, isTag } from '../reference';
import { copyCosignArtifact, findCosignArtifacts } from './cosign-artifacts';
import { copyReferrers } from './referrers';
import { type CopyImageOptions, type CopyResult, CopySession } from './session';

export { type CopyImageOptions, type CopyResult } from './session';

/**
 * Copies an image by digest from one registry/repository to another — every platform of an index,
 * only the blobs the target lacks, in parallel — then its tags, cosign signatures, attestations and
 * SBOMs and its OCI referrers. Safe to run again after a crash: whatever reached the target is skipped.
 */
export async function copyImage(options: CopyImageOptions): Promise<CopyResult> {
  assertDigest(options.digest);
  assertRepository(options.sourceRepo);
  assertRepository(options.targetRepo);
  const tags = options.tags ?? [];
  for (const tag of tags) if (!isTag(tag)) throw new ChainError('BAD_INPUT', `"${tag}" is not a valid tag`);
  const session = new CopySession({ source: options.source, sourceRepo: options.sourceRepo, target: options.target, targetRepo: options.targetRepo }, options);
  // What the source has attached to the image is looked up while the image itself copies, once
  // the source has answered for the image: the lookups would otherwise slow that first GET.
  const discovery = options.artifacts === false ? undefined : session.sourceManifest(options.digest).then(() => discoverAttached(session, options.digest));
  discovery?.catch(() => undefined);
  await session.copyManifest(options.digest, tags[0]);
  await Promise.all(tags.slice(1).map((tag) => session.tag(options.digest, tag)));
  if (discovery) {
    const { cosign, referrers } = await discovery;
    const [copied, referrerDigests] = await Promise.all([
      Promise.all(cosign.map(async (artifact) => ((await copyCosignArtifact(session, artifact)) ? [artifact.tag] : []))),
      copyReferrers(session, options.digest, referrers),
    ]);
    session.result.artifacts.push(...copied.flat(), ...referrerDigests);
  }
  return session.result;
}

async function discoverAttached(session: CopySession, digest: string) {
  const [cosign, referrers] = await Promise.all([findCosignArtifacts(session, digest), session.route.source.referrers(session.route.sourceRepo, digest)]);
  return { cosign, referrers };
}
