/**
 * One table of routes for the control API: each route's zod schemas validate its input and
 * describe its answers in the OpenAPI document (openapi.ts), and every request goes through the
 * same steps — validate, authenticate the token, authorize the action on the resource (RAM-style
 * policies), run, audit. Errors are `application/problem+json` with a stable `code`.
 */
import { randomUUID } from 'node:crypto';
import { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { z } from 'zod';
import { evaluateAccess, mayEverAllow } from '../../src/access';
import { type TokenInfo, type TokenStore } from '../../src/access';
import { type AuditLog } from '../../src/audit';
import { ChainError } from '../../src/errors';
import { type Logger } from '../../src/log';

export const problemSchema = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.number().int(),
    detail: z.string(),
    code: z.string(),
    instance: z.string(),
  })
  .meta({ description: 'RFC 9457 problem details; `code` is stable, `instance` the request id (also in the audit log).' });
export type Problem = z.infer<typeof problemSchema>;

const STATUS_OF: Partial<Record<string, number>> = {
  BAD_INPUT: 400,
  UNAUTHORIZED: 401,
  DENIED: 403,
  NOT_FOUND: 404,
  CONFLICT: 409,
  SERVICE_UNREACHABLE: 503,
  TRANSIENT: 503,
};

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

function problemOf(err: unknown): { status: number; code: string; detail: string } {
  if (err instanceof ApiError) return { status: err.status, code: err.code, detail: err.message };
  if (err instanceof ChainError) return { status: STATUS_OF[err.code] ?? (err.retryable ? 503 : 400), code: err.code, detail: err.message };
  return { status: 500, code: 'INTERNAL', detail: 'internal error' };
}

export function sendProblem(reply: FastifyReply, requestId: string, status: number, code: string, detail: string): FastifyReply {
  const body: Problem = {
    type: `https://delivery-chain.dev/problems/${code.toLowerCase().replace(/_/g, '-')}`,
    title: code,
    status,
    detail,
    code,
    instance: requestId,
  };
  if (status === 503) void reply.header('retry-after', '5');
  return reply.code(status).type('application/problem+json').send(body);
}

export interface RouteContext<P, Q, B> {
  params: P;
  query: Q;
  body: B;
  token: TokenInfo;
  requestId: string;
  request: FastifyRequest;
  reply: FastifyReply;
  /** Whether the token may do `action` on `resource` (listings filter item by item with it). */
  may(action: string, resource: string): boolean;
}

export interface RouteDef<P extends z.ZodType = z.ZodType, Q extends z.ZodType = z.ZodType, B extends z.ZodType = z.ZodType> {
  method: 'GET' | 'POST' | 'DELETE';
  /** Fastify path (`/v1/chains/:id`); the OpenAPI path is derived from it. */
  path: string;
  summary: string;
  action: string;
  /** True for requests that change state: audited whatever their outcome. Reads are audited when refused. */
  changesState: boolean;
  params?: P;
  query?: Q;
  body?: B;
  /** The answers on success, by status. */
  responses: Record<number, { description: string; schema?: z.ZodType; contentType?: string }>;
  /**
   * The resource the action is on (may look it up, e.g. a scan's image). `list` routes answer
   * `undefined` and filter item by item (then the token needs an Allow for the action somewhere).
   */
  resource(input: { params: z.infer<P>; query: z.infer<Q>; body: z.infer<B> }): Promise<string | undefined> | string | undefined;
  handler(ctx: RouteContext<z.infer<P>, z.infer<Q>, z.infer<B>>): Promise<{ status: number; body: unknown; contentType?: string; auditReason?: string }>;
}

export function defineRoute<P extends z.ZodType, Q extends z.ZodType, B extends z.ZodType>(def: RouteDef<P, Q, B>): RouteDef {
  return def as unknown as RouteDef;
}

export interface RouteDeps {
  tokens: TokenStore;
  audit: AuditLog;
  logger: Logger;
}

function bearer(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (typeof header !== 'string') return undefined;
  const match = /^Bearer\s+(\S+)$/i.exec(header.trim());
  return match?.[1] ?? '';
}

function parse<T extends z.ZodType>(schema: T | undefined, value: unknown, where: string): z.infer<T> {
  if (!schema) return undefined as z.infer<T>;
  const parsed = schema.safeParse(value ?? {});
  if (!parsed.success) throw new ApiError(400, 'BAD_INPUT', `${where}: ${z.prettifyError(parsed.error).replace(/\n/g, '; ')}`);
  return parsed.data;
}

export function registerRoute(app: FastifyInstance, def: RouteDef, deps: RouteDeps): void {
  app.route({
    method: def.method,
    url: def.path,
    handler: async (request, reply) => {
      const requestId = randomUUID();
      void reply.header('x-request-id', requestId);
      let resource = '-';
      let token: TokenInfo | undefined;
      const audit = async (outcome: 'success' | 'failure' | 'denied' | 'unauthenticated', status: number, reason: string, tokenId?: string) => {
        await deps.audit.append({
          requestId,
          ...(token ? { tokenId: token.id, tokenName: token.name } : tokenId ? { tokenId } : {}),
          action: def.action,
          resource,
          outcome,
          status,
          reason,
        });
      };
      try {
        const presented = bearer(request);
        if (presented === undefined || presented === '') {
          await audit('unauthenticated', 401, 'no bearer token');
          return sendProblem(reply, requestId, 401, 'UNAUTHORIZED', 'send an API token as `Authorization: Bearer <token>`');
        }
        const auth = await deps.tokens.authenticate(presented);
        if (!auth.ok) {
          await audit('unauthenticated', 401, `token ${auth.refusal}`, auth.tokenId);
          return sendProblem(reply, requestId, 401, 'UNAUTHORIZED', `the token is ${auth.refusal === 'wrong-secret' ? 'not valid' : auth.refusal}`);
        }
        token = auth.token;
        const policies = token.policies;
        const params = parse(def.params, request.params, 'path');
        const query = parse(def.query, request.query, 'query');
        const body = parse(def.body, request.body, 'body');
        const target = await def.resource({ params, query, body });
        resource = target ?? '*';
        if (target !== undefined) {
          const decision = evaluateAccess(policies, def.action, target);
          if (!decision.allowed) {
            await audit('denied', 403, decision.reason);
            return sendProblem(reply, requestId, 403, 'DENIED', `token ${token.name} may not ${def.action} on ${target}: ${decision.reason}`);
          }
        } else if (!mayEverAllow(policies, def.action)) {
          await audit('denied', 403, `no statement allows ${def.action}`);
          return sendProblem(reply, requestId, 403, 'DENIED', `token ${token.name} may not ${def.action} on any resource`);
        }
        const answer = await def.handler({
          params,
          query,
          body,
          token,
          requestId,
          request,
          reply,
          may: (action, r) => evaluateAccess(policies, action, r).allowed,
        });
        if (def.changesState) await audit('success', answer.status, answer.auditReason ?? 'done');
        reply.code(answer.status);
        if (answer.contentType) void reply.type(answer.contentType);
        return reply.send(answer.body);
      } catch (err) {
        const p = problemOf(err);
        if (p.status >= 500 && !(err instanceof ChainError)) deps.logger.error({ err, requestId, action: def.action }, 'control API request failed');
        // Refused input of a state-changing request, and every failure of one, is in the audit log too.
        if (def.changesState || p.status === 403) {
          try {
            await audit(p.status === 403 ? 'denied' : 'failure', p.status, p.detail);
          } catch (auditErr) {
            deps.logger.error({ err: auditErr, requestId }, 'audit entry not written');
            return sendProblem(reply, requestId, 503, 'SERVICE_UNREACHABLE', 'the audit log is unavailable; retry later');
          }
        }
        return sendProblem(reply, requestId, p.status, p.code, p.detail);
      }
    },
  });
}
