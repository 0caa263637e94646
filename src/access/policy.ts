/**
 * Access policies in the style of cloud RAM / IAM: documents of statements
 * `{Effect, Action[], Resource[]}`. A request (action, resource) is allowed when some statement
 * allows it and none denies it: an explicit Deny wins, and no matching statement means deny.
 *
 * Actions are `<service>:<Name>` (`chain:Retry`, `chain:List*`, `token:*`, `*`), matched without
 * regard to case as RAM does. Resources are `dchain:<registry>/<namespace>/<repository>` with `*`
 * at each level: `*` in the registry or namespace matches one path component, in the repository
 * any rest of the path (`dchain:source/team-a/*` covers `team-a/app` and `team-a/web/ui`).
 */
import { z } from 'zod';

/** Every action the API checks; a statement may name others (wildcards), which then match nothing new. */
export const ACTIONS = [
  'chain:Trigger',
  'chain:Read',
  'chain:ListChains',
  'chain:Retry',
  'chain:BreakGlass',
  'scan:Create',
  'scan:Read',
  'decision:Read',
  'policy:Read',
  'policy:Write',
  'rescan:Read',
  'rescan:Start',
  'audit:Read',
  'token:Create',
  'token:List',
  'token:Revoke',
] as const;

const actionPattern = z.string().regex(/^(\*|[a-z]+:[A-Za-z*]+)$/, 'an action such as chain:Read, chain:List* or *');
const resourcePattern = z
  .string()
  .regex(/^(\*|dchain:(\*|[^/\s]+\/[^/\s]+\/\S+))$/, 'a resource such as dchain:<registry>/<namespace>/<repository> (each may be *), dchain:* or *');

export const statementSchema = z.strictObject({
  Sid: z.string().max(200).optional(),
  Effect: z.enum(['Allow', 'Deny']),
  Action: z.array(actionPattern).min(1, 'at least one action'),
  Resource: z.array(resourcePattern).min(1, 'at least one resource'),
});
export const policyDocumentSchema = z.strictObject({
  Version: z.literal('1').optional(),
  Statement: z.array(statementSchema).min(1, 'at least one statement'),
});
export type PolicyDocument = z.infer<typeof policyDocumentSchema>;

/** A policy that allows everything (the bootstrap admin token's). */
export const ADMIN_POLICY: PolicyDocument = { Statement: [{ Sid: 'admin', Effect: 'Allow', Action: ['*'], Resource: ['*'] }] };

/** A resource the API acts on: `dchain:<registry>/<namespace>/<repository>` of a configured registry. */
export function resourceOf(registry: string, repository: string): string {
  const slash = repository.indexOf('/');
  // A one-component repository (`app`) has no namespace: it is written with an empty one, which only `*` matches.
  return slash < 0 ? `dchain:${registry}//${repository}` : `dchain:${registry}/${repository}`;
}

/** Resource of requests not about one repository (the audit log, tokens, rescans of everything). */
export const GLOBAL_RESOURCE = 'dchain:*';

function wildcard(pattern: string, anyChars: string): RegExp {
  const body = pattern
    .split('*')
    .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
    .join(anyChars);
  return new RegExp(`^${body}$`, 'i');
}

export function actionMatches(pattern: string, action: string): boolean {
  return pattern === '*' || wildcard(pattern, '.*').test(action);
}

/**
 * Whether a statement's resource pattern covers `resource`. The global resource (`dchain:*`, what
 * the audit log and token management act on) is covered only by `*` and `dchain:*`: a team's
 * `dchain:source/team-a/*` does not reach it.
 */
export function resourceMatches(pattern: string, resource: string): boolean {
  if (pattern === '*' || pattern === 'dchain:*') return true;
  if (resource === GLOBAL_RESOURCE) return false;
  const [pRegistry, pNamespace, ...pRest] = pattern.slice('dchain:'.length).split('/');
  const [registry, namespace, ...rest] = resource.slice('dchain:'.length).split('/');
  if (!resource.startsWith('dchain:') || registry === undefined || namespace === undefined || rest.length === 0) return false;
  return (
    wildcard(pRegistry ?? '', '[^/]*').test(registry) &&
    wildcard(pNamespace ?? '', '[^/]*').test(namespace) &&
    wildcard(pRest.join('/'), '.*').test(rest.join('/'))
  );
}

export interface AccessDecision {
  allowed: boolean;
  /** Why, for the audit log and `dchain access check`. */
  reason: string;
  /** The statement that decided (a Deny that matched, else the first Allow that matched); none when nothing matched. */
  decidedBy?: { policy: number; statement: number; sid?: string; effect: 'Allow' | 'Deny' };
}

function label(d: NonNullable<AccessDecision['decidedBy']>): string {
  return `policy ${d.policy + 1}, statement ${d.statement + 1}${d.sid ? ` (${d.sid})` : ''}`;
}

/** Evaluates `action` on `resource` against every statement of `policies`: Deny wins, no match denies. */
export function evaluateAccess(policies: readonly PolicyDocument[], action: string, resource: string): AccessDecision {
  let allow: AccessDecision['decidedBy'];
  for (const [p, doc] of policies.entries()) {
    for (const [s, st] of doc.Statement.entries()) {
      if (!st.Action.some((a) => actionMatches(a, action)) || !st.Resource.some((r) => resourceMatches(r, resource))) continue;
      const decidedBy = { policy: p, statement: s, ...(st.Sid ? { sid: st.Sid } : {}), effect: st.Effect };
      if (st.Effect === 'Deny') return { allowed: false, reason: `explicitly denied by ${label(decidedBy)}`, decidedBy };
      allow ??= decidedBy;
    }
  }
  if (allow) return { allowed: true, reason: `allowed by ${label(allow)}`, decidedBy: allow };
  return { allowed: false, reason: `no statement allows ${action} on ${resource}` };
}

/** Whether any statement could allow `action` on some resource (a listing then filters item by item). */
export function mayEverAllow(policies: readonly PolicyDocument[], action: string): boolean {
  return policies.some((doc) => doc.Statement.some((st) => st.Effect === 'Allow' && st.Action.some((a) => actionMatches(a, action))));
}
