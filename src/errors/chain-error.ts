/**
 * The one error type of the domain. `code` is stable and machine-readable; `retryable` tells
 * the activity adapters whether Temporal should try again (transient) or fail the stage for
 * good (policy deny, digest mismatch, bad input).
 */
export type ChainErrorCode =
  | 'BAD_INPUT'
  | 'CONFIG_INVALID'
  | 'CONFIG_UNREADABLE'
  | 'PREREQUISITE_MISSING'
  | 'SERVICE_UNREACHABLE'
  | 'SERVICE_START_FAILED'
  | 'DIGEST_MISMATCH'
  | 'UNSUPPORTED_MEDIA_TYPE'
  | 'NOT_FOUND'
  | 'UNAUTHORIZED'
  | 'DENIED'
  | 'TOO_LARGE'
  | 'REGISTRY_ERROR'
  | 'TRANSIENT'
  | 'POLICY_DENIED'
  | 'VERIFICATION_FAILED'
  | 'BUILD_FAILED'
  | 'INTERNAL';

const PERMANENT: ReadonlySet<ChainErrorCode> = new Set<ChainErrorCode>([
  'BAD_INPUT',
  'CONFIG_INVALID',
  'CONFIG_UNREADABLE',
  'PREREQUISITE_MISSING',
  'DIGEST_MISMATCH',
  'UNSUPPORTED_MEDIA_TYPE',
  'POLICY_DENIED',
  'VERIFICATION_FAILED',
  'TOO_LARGE',
]);

export interface ChainErrorOptions {
  cause?: unknown;
  /** Overrides the default retryability of the code. */
  retryable?: boolean;
  /** Structured, secret-free facts for logs and failure details. */
  details?: Record<string, unknown>;
}

export class ChainError extends Error {
  override readonly name = 'ChainError';
  readonly code: ChainErrorCode;
  readonly retryable: boolean;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ChainErrorCode, message: string, options: ChainErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.retryable = options.retryable ?? !PERMANENT.has(code);
    this.details = options.details;
  }

  static is(err: unknown, code?: ChainErrorCode): err is ChainError {
    return err instanceof ChainError && (code === undefined || err.code === code);
  }
}
