/**
 * The zod schemas of the names images are known by, on the one grammar of ./reference.ts (the
 * distribution reference package's): used wherever a name crosses a boundary (webhooks, workflow
 * input, the API, configuration).
 */
import { z } from 'zod';
import { sha256DigestSchema } from './digest';
import { isRepositoryName, isTag } from './reference';

/** Only SHA-256 content digests start chains: what every registry in scope computes. */
export const digestSchema = sha256DigestSchema('a digest of the form sha256:<64 lowercase hex>');

/** A repository name as the distribution spec allows it (path components of [a-z0-9] with separators). */
export const repositorySchema = z.string().refine(isRepositoryName, 'a repository name such as team/app');

export const tagSchema = z.string().refine(isTag, 'a tag such as v1.2.3');
