import { z } from 'zod';
import { digestSchema } from '../../registry';
import { isoTime, type PushNotice } from './push-notice';

export const HARBOR_CONTENT_TYPES = ['application/json', 'application/cloudevents+json'];

const resourceSchema = z.looseObject({
  digest: digestSchema,
  tag: z.string().optional(),
  resource_url: z.string().optional(),
});

const eventDataSchema = z.looseObject({
  resources: z.array(resourceSchema),
  repository: z.looseObject({ repo_full_name: z.string().min(1) }),
});

/** Harbor's "Default" payload format: `{type, occur_at, operator, event_data}`. */
const defaultSchema = z.looseObject({
  type: z.string().min(1),
  occur_at: z.number().optional(),
  operator: z.string().optional(),
  event_data: eventDataSchema,
});

/** Harbor's "CloudEvents" payload format (structured mode): `{specversion, id, type: harbor.artifact.pushed, data}`. */
const cloudEventSchema = z.looseObject({
  specversion: z.string(),
  id: z.string().min(1),
  type: z.string().min(1),
  time: z.string().optional(),
  operator: z.string().optional(),
  data: eventDataSchema,
});

const DEFAULT_ACTIONS: Record<string, string> = { PUSH_ARTIFACT: 'push', PULL_ARTIFACT: 'pull', DELETE_ARTIFACT: 'delete' };

/** `harbor.artifact.pushed` → push; other CloudEvents types keep their last word. */
function cloudEventAction(type: string): string {
  const last = type.split('.').pop() ?? type;
  return { pushed: 'push', pulled: 'pull', deleted: 'delete' }[last] ?? last;
}

export function parseHarbor(body: unknown, now: Date): PushNotice[] {
  const isCloudEvent = typeof body === 'object' && body !== null && 'specversion' in body;
  if (isCloudEvent) {
    const event = cloudEventSchema.parse(body);
    return toNotices(event.data, cloudEventAction(event.type), isoTime(event.time, now), event.operator, event.id);
  }
  const event = defaultSchema.parse(body);
  return toNotices(event.event_data, DEFAULT_ACTIONS[event.type] ?? event.type.toLowerCase(), isoTime(event.occur_at, now), event.operator, undefined);
}

function toNotices(
  data: z.infer<typeof eventDataSchema>,
  action: string,
  pushedAt: string,
  operator: string | undefined,
  id: string | undefined,
): PushNotice[] {
  return data.resources.map((resource, index) => ({
    action,
    // Harbor notifies about artifacts (manifests) only.
    target: 'manifest' as const,
    repository: data.repository.repo_full_name,
    digest: resource.digest,
    tags: resource.tag ? [resource.tag] : [],
    pushedAt,
    ...(id ? { deliveryId: data.resources.length > 1 ? `${id}#${index}` : id } : {}),
    ...(operator ? { actor: operator } : {}),
  }));
}
