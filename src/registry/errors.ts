import { z } from 'zod';
import { ChainError, type ChainErrorCode } from '../errors';

const errorBodySchema = z.looseObject({
  errors: z.array(z.looseObject({ code: z.string(), message: z.string().optional() })),
});

/** `{"errors":[{"code":"MANIFEST_UNKNOWN","message":"…"}]}` → "MANIFEST_UNKNOWN: …"; the codes alone too. */
export function registryErrors(text: string): { codes: string[]; summary: string } {
  try {
    const parsed = errorBodySchema.safeParse(JSON.parse(text));
    if (parsed.success && parsed.data.errors.length > 0) {
      return {
        codes: parsed.data.errors.map((e) => e.code),
        summary: parsed.data.errors.map((e) => (e.message ? `${e.code}: ${e.message}` : e.code)).join('; '),
      };
    }
  } catch {
    // not JSON: fall through to the raw text
  }
  return { codes: [], summary: text.trim().slice(0, 200) };
}

/** A registry's non-success answer as a typed error; `what` says what was asked ("manifest app@sha256:…"). */
export function httpError(status: number, what: string, registry: string, bodyText: string): ChainError {
  const { codes, summary } = registryErrors(bodyText);
  const suffix = summary ? ` (${summary})` : '';
  const details = { status, registry, registryCodes: codes };
  const make = (code: ChainErrorCode, message: string, retryable?: boolean) =>
    new ChainError(code, `${message}${suffix}`, { details, ...(retryable !== undefined ? { retryable } : {}) });
  if (codes.includes('DIGEST_INVALID')) return make('DIGEST_MISMATCH', `${registry} rejected ${what}: content does not match its digest`);
  if (status !== 404 && (codes.includes('MANIFEST_BLOB_UNKNOWN') || codes.includes('BLOB_UNKNOWN')))
    return make('REGISTRY_ERROR', `${registry} rejected ${what}: a referenced blob is missing`);
  switch (status) {
    case 401:
      return make('UNAUTHORIZED', `${registry} requires authentication for ${what} and refused the credentials`);
    case 403:
      return make('DENIED', `${registry} denied access to ${what}`);
    case 404:
      return make('NOT_FOUND', `${what} not found on ${registry}`);
    case 413:
      return make('TOO_LARGE', `${registry} refused ${what}: body too large`);
    case 429:
      return make('TRANSIENT', `${registry} kept rate-limiting ${what}`);
    default:
      if (status >= 500) return make('TRANSIENT', `${registry} failed on ${what} with HTTP ${status}`);
      return make('REGISTRY_ERROR', `${registry} refused ${what} with HTTP ${status}`, false);
  }
}
