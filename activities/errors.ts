import { ApplicationFailure } from '@temporalio/common';
import { ChainError } from '../src/errors/chain-error';

/**
 * Turns a domain error into what Temporal should do with it: permanent ChainErrors (policy deny,
 * digest mismatch, bad input…) become non-retryable failures typed by their code; everything else
 * is rethrown and retried with the activity's backoff.
 */
export function toActivityFailure(err: unknown): never {
  if (err instanceof ApplicationFailure) throw err;
  if (err instanceof ChainError) {
    const details = err.details === undefined ? [] : [err.details];
    if (!err.retryable) throw ApplicationFailure.create({ message: err.message, type: err.code, nonRetryable: true, details, cause: err });
    throw ApplicationFailure.create({ message: err.message, type: err.code, nonRetryable: false, details, cause: err });
  }
  throw err;
}
