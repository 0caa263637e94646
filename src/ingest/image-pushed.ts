import { createHash } from 'node:crypto';
import { z } from 'zod';
import { sha256DigestSchema } from '../registry/digest';

/** Only SHA-256 content digests start chains: what every registry in scope computes. */
export const digestSchema = sha256DigestSchema('a digest of the form sha256:<64 lowercase hex>');

/** A repository name as the distribution spec allows it (path components of [a-z0-9] with separators). */
export const repositorySchema = z
  .string()
  .max(255)
  .regex(/^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/, 'a repository name such as team/app');

export const tagSchema = z.string().regex(/^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/, 'a tag such as v1.2.3');

/** One manifest push that starts (or joins) a delivery chain, whatever the sender's format. */
export const imagePushedSchema = z.strictObject({
  /** Name of the configured registry (config.registries[].name), not a host. */
  registry: z.string().min(1),
  repository: repositorySchema,
  digest: digestSchema,
  tags: z.array(tagSchema),
  mediaType: z.string().min(1).optional(),
  /** ISO-8601 time of the push as the sender reports it. */
  pushedAt: z.iso.datetime({ offset: true }),
  /** The webhook source (config.sources[].name) or `reconcile:<source>`. */
  source: z.string().min(1),
  /** The sender's id for this event, when it has one (deduplication of redeliveries). */
  deliveryId: z.string().min(1).max(200).optional(),
});

export type ImagePushed = z.infer<typeof imagePushedSchema>;

/** The argument of the `deliveryChain` workflow: the push that started it. */
export type ChainInput = ImagePushed;

/** What the `addTags` signal of a running chain carries. */
export interface AddTagsSignal {
  tags: string[];
}

export const CHAIN_WORKFLOW_TYPE = 'deliveryChain';
export const ADD_TAGS_SIGNAL = 'addTags';

/** One workflow per image digest: `chain:<registry>/<repository>@<digest>`. */
export function chainWorkflowId(e: Pick<ImagePushed, 'registry' | 'repository' | 'digest'>): string {
  return `chain:${e.registry}/${e.repository}@${e.digest}`;
}

/** A short stable hash, for queue job ids and Redis keys that must not contain the raw id. */
export function stableHash(...parts: string[]): string {
  return createHash('sha256').update(parts.join('\0')).digest('hex').slice(0, 40);
}
