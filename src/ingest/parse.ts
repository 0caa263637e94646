import { z } from 'zod';
import { type WebhookSourceConfig } from '../config';
import { ChainError } from '../errors';
import { ACR_CONTENT_TYPES, parseAcr } from './formats/acr';
import { DISTRIBUTION_CONTENT_TYPES, parseDistribution } from './formats/distribution';
import { GENERIC_CONTENT_TYPES, parseGeneric } from './formats/generic';
import { HARBOR_CONTENT_TYPES, parseHarbor } from './formats/harbor';
import { type PushNotice } from './formats/push-notice';

type Format = WebhookSourceConfig['format'];

interface FormatSpec {
  contentTypes: readonly string[];
  parse: (body: unknown, now: Date) => PushNotice[];
}

const FORMATS: Record<Format, FormatSpec> = {
  // Some proxies and test tools rewrite the vendor type to plain JSON; the body is still checked.
  distribution: { contentTypes: [...DISTRIBUTION_CONTENT_TYPES, 'application/json'], parse: parseDistribution },
  harbor: { contentTypes: HARBOR_CONTENT_TYPES, parse: parseHarbor },
  acr: { contentTypes: ACR_CONTENT_TYPES, parse: parseAcr },
  generic: { contentTypes: GENERIC_CONTENT_TYPES, parse: parseGeneric },
};

/** Content types a source of this format accepts. */
export function acceptedContentTypes(format: Format): readonly string[] {
  return FORMATS[format].contentTypes;
}

/** The media type of a Content-Type header, without parameters, lower-case. */
export function mediaTypeOf(contentType: string | undefined): string | undefined {
  const type = contentType?.split(';')[0]?.trim().toLowerCase();
  return type ? type : undefined;
}

/**
 * Parses one webhook body of the source's format into registry events. Throws ChainError
 * UNSUPPORTED_MEDIA_TYPE for a content type the format never sends and BAD_INPUT (naming the
 * field) for malformed JSON or a body of another shape.
 */
export function parseDelivery(format: Format, contentType: string | undefined, raw: Buffer, now = new Date()): PushNotice[] {
  const spec = FORMATS[format];
  const type = mediaTypeOf(contentType);
  if (type === undefined || !spec.contentTypes.includes(type)) {
    throw new ChainError(
      'UNSUPPORTED_MEDIA_TYPE',
      `content type ${type ?? '(none)'} is not one a ${format} source sends; expected ${spec.contentTypes.join(' or ')}`,
      {
        details: { contentType: type ?? null, expected: spec.contentTypes },
      },
    );
  }
  let body: unknown;
  try {
    body = JSON.parse(raw.toString('utf8'));
  } catch (cause) {
    throw new ChainError('BAD_INPUT', `body is not valid JSON: ${(cause as Error).message}`, { cause });
  }
  try {
    return spec.parse(body, now);
  } catch (cause) {
    if (cause instanceof z.ZodError) {
      const first = cause.issues.slice(0, 3).map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`);
      throw new ChainError('BAD_INPUT', `not a ${format} webhook payload: ${first.join('; ')}`, {
        cause,
        details: { issues: cause.issues.map((i) => ({ path: i.path.join('.'), message: i.message })) },
      });
    }
    throw cause;
  }
}
