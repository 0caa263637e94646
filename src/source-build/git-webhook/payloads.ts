/**
 * Push payloads of GitHub (`push` event), Gitea (`push`) and GitLab (`Push Hook`, `Tag Push Hook`)
 * read into one SourcePushed. Only the fields a build needs are required; forges add fields freely.
 * Deleted refs (the all-zero commit) and non-push events are answered as ignored, not as errors.
 */
import { z } from 'zod';
import { ChainError } from '../../errors';
import { type SourcePushed, sourcePushedSchema } from '../source-pushed';

export type GitFormat = 'github' | 'gitea' | 'gitlab';

export type ParsedPush = { kind: 'push'; push: SourcePushed; deliveryId?: string } | { kind: 'ignored'; reason: string; deliveryId?: string };

const ZERO_COMMIT = /^0+$/;

const githubPush = z.looseObject({
  ref: z.string(),
  after: z.string(),
  deleted: z.boolean().optional(),
  head_commit: z.looseObject({ id: z.string() }).nullish(),
  repository: z.looseObject({ clone_url: z.string() }),
  pusher: z.looseObject({ name: z.string().optional() }).optional(),
});

const giteaPush = z.looseObject({
  ref: z.string(),
  after: z.string(),
  repository: z.looseObject({ clone_url: z.string() }),
  pusher: z.looseObject({ login: z.string().optional(), username: z.string().optional() }).optional(),
});

const gitlabPush = z.looseObject({
  object_kind: z.enum(['push', 'tag_push']),
  ref: z.string(),
  after: z.string(),
  checkout_sha: z.string().nullish(),
  user_username: z.string().optional(),
  project: z.looseObject({ git_http_url: z.string() }),
});

type Headers = Record<string, string | string[] | undefined>;

function header(headers: Headers, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function parseJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch (err) {
    throw new ChainError('BAD_INPUT', `the body is not JSON: ${(err as Error).message}`);
  }
}

function shape<T>(schema: z.ZodType<T>, json: unknown, what: string): T {
  const parsed = schema.safeParse(json);
  if (!parsed.success)
    throw new ChainError('BAD_INPUT', `not a ${what} payload: ${parsed.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ')}`);
  return parsed.data;
}

function toPush(fields: Record<string, unknown>, what: string): SourcePushed {
  const parsed = sourcePushedSchema.safeParse(fields);
  if (!parsed.success) throw new ChainError('BAD_INPUT', `${what}: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  return parsed.data;
}

/** Reads a push delivery of `format`; `source` is the configured Git source's name. */
export function parseGitPush(format: GitFormat, source: string, headers: Headers, body: Buffer): ParsedPush {
  if (format === 'github') {
    const event = header(headers, 'x-github-event');
    const deliveryId = header(headers, 'x-github-delivery');
    const base = deliveryId ? { deliveryId } : {};
    if (event !== 'push') return { kind: 'ignored', reason: `GitHub event "${event ?? 'none'}" is not a push`, ...base };
    const p = shape(githubPush, parseJson(body), 'GitHub push');
    if (p.deleted === true || ZERO_COMMIT.test(p.after)) return { kind: 'ignored', reason: `${p.ref} was deleted`, ...base };
    const push = toPush({ repoUrl: p.repository.clone_url, ref: p.ref, commit: p.head_commit?.id ?? p.after, pusher: p.pusher?.name, source }, 'GitHub push');
    return { kind: 'push', push, ...base };
  }
  if (format === 'gitea') {
    const event = header(headers, 'x-gitea-event') ?? header(headers, 'x-gogs-event');
    const deliveryId = header(headers, 'x-gitea-delivery');
    const base = deliveryId ? { deliveryId } : {};
    if (event !== 'push') return { kind: 'ignored', reason: `Gitea event "${event ?? 'none'}" is not a push`, ...base };
    const p = shape(giteaPush, parseJson(body), 'Gitea push');
    if (ZERO_COMMIT.test(p.after)) return { kind: 'ignored', reason: `${p.ref} was deleted`, ...base };
    const push = toPush({ repoUrl: p.repository.clone_url, ref: p.ref, commit: p.after, pusher: p.pusher?.login ?? p.pusher?.username, source }, 'Gitea push');
    return { kind: 'push', push, ...base };
  }
  const event = header(headers, 'x-gitlab-event');
  const deliveryId = header(headers, 'x-gitlab-event-uuid');
  const base = deliveryId ? { deliveryId } : {};
  if (event !== 'Push Hook' && event !== 'Tag Push Hook') return { kind: 'ignored', reason: `GitLab event "${event ?? 'none'}" is not a push`, ...base };
  const p = shape(gitlabPush, parseJson(body), 'GitLab push');
  const commit = p.checkout_sha ?? p.after;
  if (ZERO_COMMIT.test(p.after) || !commit) return { kind: 'ignored', reason: `${p.ref} was deleted`, ...base };
  const push = toPush({ repoUrl: p.project.git_http_url, ref: p.ref, commit, pusher: p.user_username, source }, 'GitLab push');
  return { kind: 'push', push, ...base };
}
