import { z } from 'zod';
import { digestSchema } from '../../registry';
import { isoTime, MANIFEST_MEDIA_TYPES, type PushNotice } from './push-notice';

/** Content types of CNCF distribution notifications: registry 2.x sends v1, 3.x sends v2. */
export const DISTRIBUTION_CONTENT_TYPES = ['application/vnd.docker.distribution.events.v1+json', 'application/vnd.docker.distribution.events.v2+json'];

const descriptor = z.looseObject({ mediaType: z.string().optional(), digest: z.string().optional() });

const eventSchema = z.looseObject({
  id: z.string().min(1),
  timestamp: z.string().optional(),
  action: z.string().min(1),
  target: z.looseObject({
    mediaType: z.string().optional(),
    digest: digestSchema.optional(),
    repository: z.string().min(1),
    url: z.string().optional(),
    tag: z.string().optional(),
    artifactType: z.string().optional(),
    subject: descriptor.optional(),
    references: z.array(descriptor).optional(),
  }),
  request: z.looseObject({ useragent: z.string().optional(), host: z.string().optional() }).optional(),
  actor: z.looseObject({ name: z.string().optional() }).optional(),
});

export const distributionEnvelopeSchema = z.looseObject({ events: z.array(eventSchema) });

/** One envelope of `application/vnd.docker.distribution.events.v1+json` (or v2), several events each. */
export function parseDistribution(body: unknown, now: Date): PushNotice[] {
  const envelope = distributionEnvelopeSchema.parse(body);
  return envelope.events.flatMap((event): PushNotice[] => {
    const { target } = event;
    // Deletes by tag carry no digest; nothing to start from them.
    if (target.digest === undefined) return [];
    const isManifest = target.url?.includes('/manifests/') ?? (target.mediaType !== undefined && MANIFEST_MEDIA_TYPES.has(target.mediaType));
    return [
      {
        action: event.action.toLowerCase(),
        target: isManifest ? 'manifest' : 'blob',
        repository: target.repository,
        digest: target.digest,
        tags: target.tag ? [target.tag] : [],
        ...(target.mediaType ? { mediaType: target.mediaType } : {}),
        ...(target.artifactType ? { artifactType: target.artifactType } : {}),
        ...(target.subject ? { hasSubject: true } : {}),
        ...(target.references ? { referenceMediaTypes: target.references.flatMap((r) => (r.mediaType ? [r.mediaType] : [])) } : {}),
        pushedAt: isoTime(event.timestamp, now),
        deliveryId: event.id,
        ...(event.request?.useragent ? { userAgent: event.request.useragent } : {}),
        ...(event.actor?.name ? { actor: event.actor.name } : {}),
      },
    ];
  });
}
