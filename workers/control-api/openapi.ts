/**
 * The OpenAPI 3.1 document of the control API, generated from the same zod schemas that validate
 * requests (zod 4's own JSON Schema output, draft 2020-12, which OpenAPI 3.1 uses as is).
 */
import { z } from 'zod';
import { problemSchema, type RouteDef } from './route';

type JsonSchema = Record<string, unknown>;

function jsonSchema(schema: z.ZodType, io: 'input' | 'output'): JsonSchema {
  const { $schema: _drop, ...rest } = z.toJSONSchema(schema, { target: 'draft-2020-12', io, unrepresentable: 'any' }) as JsonSchema;
  return rest;
}

function parameters(schema: z.ZodType | undefined, where: 'path' | 'query'): JsonSchema[] {
  if (!schema) return [];
  const object = jsonSchema(schema, 'input') as { properties?: Record<string, JsonSchema>; required?: string[] };
  return Object.entries(object.properties ?? {}).map(([name, s]) => ({
    name,
    in: where,
    required: where === 'path' || (object.required ?? []).includes(name),
    ...(typeof s.description === 'string' ? { description: s.description } : {}),
    schema: s,
  }));
}

const PROBLEM_STATUSES: Record<number, string> = {
  400: 'The request is not valid (the detail names the field and the problem)',
  401: 'No token, or a malformed, unknown, expired or revoked one',
  403: "The token's policies do not allow the action on the resource",
  404: 'Not found',
  503: 'A backing service (Temporal, Redis) is unavailable; retry later',
};

export function openApiDocument(routes: readonly RouteDef[], info: { version: string; serverUrl?: string }): JsonSchema {
  const problem = { 'application/problem+json': { schema: jsonSchema(problemSchema, 'output') } };
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of routes) {
    const path = route.path.replace(/:([A-Za-z]+)/g, '{$1}');
    const responses: Record<string, unknown> = {};
    for (const [status, r] of Object.entries(route.responses)) {
      responses[status] = {
        description: r.description,
        ...(r.schema ? { content: { [r.contentType ?? 'application/json']: { schema: jsonSchema(r.schema, 'output') } } } : {}),
      };
    }
    for (const [status, description] of Object.entries(PROBLEM_STATUSES)) responses[status] ??= { description, content: problem };
    (paths[path] ??= {})[route.method.toLowerCase()] = {
      operationId: `${route.method.toLowerCase()}${path
        .replace(/[{}]/g, '')
        .split('/')
        .filter(Boolean)
        .map((p) => p[0]!.toUpperCase() + p.slice(1))
        .join('')}`,
      summary: route.summary,
      description: `Needs \`${route.action}\` on the resource.`,
      'x-dchain-action': route.action,
      security: [{ bearer: [] }],
      parameters: [...parameters(route.params, 'path'), ...parameters(route.query, 'query')],
      ...(route.body ? { requestBody: { required: true, content: { 'application/json': { schema: jsonSchema(route.body, 'input') } } } } : {}),
      responses,
    };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'delivery-chain control API',
      version: info.version,
      description:
        'Chains, scans, decisions, rescans and the audit log. Every request needs an API token (`dchain tokens create`); every state-changing request and every refusal is audited.',
    },
    ...(info.serverUrl ? { servers: [{ url: info.serverUrl }] } : {}),
    components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'An API token `dct_…`' } } },
    paths,
  };
}
