import { ChainError } from '../../errors/chain-error';
import { assertDigest } from '../digest';
import { assertRepository, isTag } from '../reference';
import { copyCosignArtifacts } from './cosign-artifacts';
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
  for (const tag of options.tags ?? []) if (!isTag(tag)) throw new ChainError('BAD_INPUT', `"${tag}" is not a valid tag`);
  const session = new CopySession({ source: options.source, sourceRepo: options.sourceRepo, target: options.target, targetRepo: options.targetRepo }, options);
  await session.copyManifest(options.digest);
  for (const tag of options.tags ?? []) await tagOnTarget(session, tag);
  if (options.artifacts !== false) {
    session.result.artifacts.push(...(await copyCosignArtifacts(session, options.digest)));
    session.result.artifacts.push(...(await copyReferrers(session, options.digest)));
  }
  return session.result;
}

async function tagOnTarget(session: CopySession, tag: string): Promise<void> {
  const { source, sourceRepo, target, targetRepo } = session.route;
  const digest = session.result.digest;
  if ((await target.headManifest(targetRepo, tag))?.digest === digest) return;
  const { bytes, mediaType } = await source.getManifest(sourceRepo, digest);
  await target.putManifest(targetRepo, tag, bytes, mediaType);
}
