import { ApplicationFailure } from '@temporalio/common';
import { failureType } from '../src/chain';
import { ChainError } from '../src/errors';

/**
 * Turns a domain error into what Temporal should do with it: permanent ChainErrors (policy deny,
 * digest mismatch, bad input…) become non-retryable failures typed by `failureType(code)`; other
 * ChainErrors retry with the activity's backoff, as does everything else (rethrown). A policy
 * denial's failure details are its violations (`details.violations`), as workflows record them.
 */
export function toActivityFailure(err: unknown): never {
  if (err instanceof ApplicationFailure) throw err;
  if (err instanceof ChainError) {
    const violations = err.code === 'POLICY_DENIED' ? err.details?.violations : undefined;
    const details = Array.isArray(violations) ? violations : err.details === undefined ? [] : [err.details];
    throw ApplicationFailure.create({ message: err.message, type: failureType(err.code), nonRetryable: !err.retryable, details, cause: err });
  }
  throw err;
}
