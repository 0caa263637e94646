import { z } from 'zod';
import { digestSchema } from '../../registry';
import { type PushNotice } from './push-notice';

export const ACR_CONTENT_TYPES = ['application/json'];

/** Alibaba Cloud Container Registry trigger payload: `{push_data: {digest, pushed_at, tag}, repository: {…}}`. */
const acrSchema = z.looseObject({
  push_data: z.looseObject({
    digest: digestSchema,
    pushed_at: z.string().optional(),
    tag: z.string().optional(),
  }),
  repository: z.looseObject({
    repo_full_name: z.string().min(1).optional(),
    namespace: z.string().min(1),
    name: z.string().min(1),
  }),
});

/** ACR writes `pushed_at` as "YYYY-MM-DD HH:mm:ss" in China Standard Time (UTC+8), without a zone. */
function acrTime(value: string | undefined, now: Date): string {
  const match = value?.match(/^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2})$/);
  if (!match) return now.toISOString();
  return new Date(`${match[1]}T${match[2]}+08:00`).toISOString();
}

export function parseAcr(body: unknown, now: Date): PushNotice[] {
  const { push_data: push, repository } = acrSchema.parse(body);
  return [
    {
      // ACR triggers fire on image pushes only.
      action: 'push',
      target: 'manifest',
      repository: repository.repo_full_name ?? `${repository.namespace}/${repository.name}`,
      digest: push.digest,
      tags: push.tag ? [push.tag] : [],
      pushedAt: acrTime(push.pushed_at, now),
    },
  ];
}
