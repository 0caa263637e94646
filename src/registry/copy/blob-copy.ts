import { type Readable } from 'node:stream';
import { type RegistryClient } from '../client';
import { type Descriptor } from '../manifest';
import { type ProgressTracker } from './progress';
import { cancelled } from './cancelled';

export interface BlobRoute {
  source: RegistryClient;
  sourceRepo: string;
  target: RegistryClient;
  targetRepo: string;
}

export type BlobOutcome = 'present' | 'mounted' | 'copied';

/**
 * Gets a blob the target lacks onto it: a cross-repository mount when source and target are the
 * same registry; else, for large blobs, the source's response piped into the upload over sockets of
 * their own (RegistryClient.pipeBlobFrom); else, or when that pipe leaves it to the HTTP client, the
 * source's response streamed into the upload request through a digest verifier. Never buffered whole;
 * either way the upload cannot complete unless the bytes match the digest.
 */
export async function transferBlob(
  route: BlobRoute,
  blob: Descriptor,
  progress: ProgressTracker,
  signal?: AbortSignal,
): Promise<Exclude<BlobOutcome, 'present'>> {
  const { source, sourceRepo, target, targetRepo } = route;
  if (source.host === target.host && sourceRepo !== targetRepo && (await target.mountBlob(targetRepo, blob.digest, sourceRepo))) return 'mounted';
  if (signal?.aborted) throw cancelled(blob.digest, signal);
  progress.blobBytes(blob.digest, 0);
  const piped = await target.pipeBlobFrom(source, sourceRepo, targetRepo, blob.digest, blob.size, {
    onBytes: (bytes) => progress.blobBytes(blob.digest, bytes),
    ...(signal ? { abort: { signal, error: () => cancelled(blob.digest, signal) } } : {}),
  });
  if (piped) return 'copied';
  await target.uploadBlob(targetRepo, blob.digest, () => sourceStream(route, blob, progress, signal), blob.size, { assumeAbsent: true });
  return 'copied';
}

/** The verified source body; cancellation destroys it, which fails the upload in flight. */
async function sourceStream(route: BlobRoute, blob: Descriptor, progress: ProgressTracker, signal: AbortSignal | undefined): Promise<Readable> {
  if (signal?.aborted) throw cancelled(blob.digest, signal);
  progress.blobBytes(blob.digest, 0);
  const stream = await route.source.blobStream(route.sourceRepo, blob.digest, {
    maxBytes: blob.size,
    onBytes: (bytes) => progress.blobBytes(blob.digest, bytes),
  });
  if (signal) {
    const onAbort = () => stream.destroy(cancelled(blob.digest, signal));
    if (signal.aborted) onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    stream.once('close', () => signal.removeEventListener('abort', onAbort));
  }
  return stream;
}
