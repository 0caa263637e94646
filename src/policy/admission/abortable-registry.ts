import { ChainError } from '../../errors';
import { type SignatureRegistry } from '../../signing';

/**
 * A signature registry whose calls end when `signal` aborts (the admission check's deadline, or
 * shutdown): a call in flight is answered with a failure at once, and no further request starts,
 * so a hung registry cannot keep a finished check — or the process — busy.
 */
export function abortableRegistry(client: SignatureRegistry, signal: AbortSignal | undefined): SignatureRegistry {
  if (!signal) return client;
  const guard = <T>(call: () => Promise<T>): Promise<T> => {
    if (signal.aborted) return Promise.reject(aborted(signal));
    return new Promise<T>((resolve, reject) => {
      const onAbort = () => reject(aborted(signal));
      signal.addEventListener('abort', onAbort, { once: true });
      call()
        .then(resolve, reject)
        .finally(() => signal.removeEventListener('abort', onAbort));
    });
  };
  return {
    host: client.host,
    headManifest: (repo, reference) => guard(() => client.headManifest(repo, reference)),
    getManifest: (repo, reference) => guard(() => client.getManifest(repo, reference)),
    putManifest: (repo, reference, bytes, mediaType) => guard(() => client.putManifest(repo, reference, bytes, mediaType)),
    getBlob: (repo, digest, opts) => guard(() => client.getBlob(repo, digest, opts)),
    uploadBlob: (repo, digest, data, size) => guard(() => client.uploadBlob(repo, digest, data, size)),
  };
}

function aborted(signal: AbortSignal): ChainError {
  const reason: unknown = signal.reason;
  const why = reason instanceof Error ? reason.message : typeof reason === 'string' ? reason : 'cancelled';
  return new ChainError('TRANSIENT', `registry request cancelled: ${why}`, { retryable: false });
}
