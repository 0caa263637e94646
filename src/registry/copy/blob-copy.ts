import { PassThrough, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
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
 * same registry, else a stream from source straight into the target's upload (verified against the
 * digest on both ends, never buffered whole).
 */
export async function transferBlob(
  route: BlobRoute,
  blob: Descriptor,
  progress: ProgressTracker,
  signal?: AbortSignal,
): Promise<Exclude<BlobOutcome, 'present'>> {
  const { source, sourceRepo, target, targetRepo } = route;
  if (source.host === target.host && sourceRepo !== targetRepo && (await target.mountBlob(targetRepo, blob.digest, sourceRepo))) return 'mounted';
  await target.uploadBlob(targetRepo, blob.digest, () => sourceStream(route, blob, progress, signal), blob.size, { assumeAbsent: true });
  return 'copied';
}

/** A stream available synchronously (what an upload body factory must return) fed by the source GET. */
function sourceStream(route: BlobRoute, blob: Descriptor, progress: ProgressTracker, signal: AbortSignal | undefined): Readable {
  if (signal?.aborted) throw cancelled(blob.digest, signal);
  const out = new PassThrough({ highWaterMark: 1024 * 1024 });
  // Cancellation interrupts a transfer in flight: the upload fails and the copy stops.
  if (signal) {
    const onAbort = () => out.destroy(cancelled(blob.digest, signal));
    signal.addEventListener('abort', onAbort, { once: true });
    out.once('close', () => signal.removeEventListener('abort', onAbort));
  }
  let seen = 0;
  progress.blobBytes(blob.digest, 0);
  route.source
    .blobStream(route.sourceRepo, blob.digest, { maxBytes: blob.size })
    .then((input) => {
      input.on('data', (chunk: Buffer) => {
        seen += chunk.length;
        progress.blobBytes(blob.digest, seen);
      });
      return pipeline(input, out);
    })
    .catch((err: unknown) => out.destroy(err as Error));
  return out;
}
