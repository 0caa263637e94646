import { ChainError } from '../../errors';

/**
 * The copy was cancelled. Not retryable within this copy (uploads must not start over); whoever
 * cancelled decides whether the whole copy runs again.
 */
export function cancelled(digest: string, signal: AbortSignal): ChainError {
  return new ChainError('TRANSIENT', `copy of ${digest} was cancelled`, { cause: signal.reason, retryable: false });
}
