import { z } from 'zod';
import { digestSchema } from '../../registry';
import { isoTime, type PushNotice } from './push-notice';

export const GENERIC_CONTENT_TYPES = ['application/json'];

/**
 * The project's own form for scripts and registries without a supported format:
 * `{registry, repository, digest, tag?}` (registry is informational: the source decides it).
 */
export const genericSchema = z.strictObject({
  registry: z.string().min(1),
  repository: z.string().min(1),
  digest: digestSchema,
  tag: z.string().min(1).optional(),
  tags: z.array(z.string().min(1)).optional(),
  mediaType: z.string().min(1).optional(),
  pushedAt: z.string().optional(),
  deliveryId: z.string().min(1).max(200).optional(),
});

export function parseGeneric(body: unknown, now: Date): PushNotice[] {
  const event = genericSchema.parse(body);
  const tags = [...new Set([...(event.tag ? [event.tag] : []), ...(event.tags ?? [])])];
  return [
    {
      action: 'push',
      target: 'manifest',
      repository: event.repository,
      digest: event.digest,
      tags,
      ...(event.mediaType ? { mediaType: event.mediaType } : {}),
      pushedAt: isoTime(event.pushedAt, now),
      ...(event.deliveryId ? { deliveryId: event.deliveryId } : {}),
    },
  ];
}
