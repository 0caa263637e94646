/** The `/v1` routes: chains, scans, decisions, rescans and the audit log (see route.ts for the common steps). */
import { randomUUID } from 'node:crypto';
import { type Client } from '@temporalio/client';
import { type Redis } from 'ioredis';
import { z } from 'zod';
import { GLOBAL_RESOURCE, resourceOf } from '../../src/access';
import { createTokenSchema, tokenRecordSchema, type TokenStore } from '../../src/access';
import { auditEntrySchema, type AuditLog } from '../../src/audit';
import { type Config } from '../../src/config';
import { ChainError } from '../../src/errors';
import { type IngestQueue } from '../../src/ingest';
import { DecisionStore } from '../../src/policy';
import { RedisSbomStore } from '../../src/scan';
import { scanJobWorkflowId, WORKFLOW_TYPES } from '../../src/chain';
import { type ScanJobInput, type ScanJobResult } from '../../workflows/scan-job';
import { breakGlass, retryChain } from '../temporal/chain-actions';
import { startRescan } from '../temporal/rescan-control';
import { chainDetail, chainDetailSchema, chainStateSchema, chainSummarySchema, listChains } from './chains-view';
import { resolveImage } from './images';
import { type RegistryDirectory } from '../../src/registry';
import { ApiError, defineRoute, type RouteDef } from './route';

export interface ControlDeps {
  tokens: TokenStore;
  /** Where image references are resolved (configured registries only). */
  registries: RegistryDirectory;
  config: Config;
  client: Client;
  redis: Redis;
  queue: Pick<IngestQueue, 'submit'>;
  audit: AuditLog;
}

const DIGEST = /^sha256:[a-f0-9]{64}$/;
const chainId = z.string().regex(/^chain:[^/@\s]+\/[^@\s]+@sha256:[a-f0-9]{64}$/, 'a chain id chain:<registry>/<repository>@sha256:<hex>');
const imageBody = z.strictObject({
  image: z.string().min(1).max(512).describe('An image reference in a configured registry: host/repository:tag or @sha256:…'),
});
const pageQuery = {
  limit: z.coerce.number().int().min(1).max(1000).default(50),
  cursor: z.string().max(2000).optional().describe('The `next` of the previous page'),
};
const tokenInfoSchema = tokenRecordSchema.omit({ salt: true, hash: true });
const since = z.iso.datetime({ offset: true }).optional().describe('ISO-8601 time: only what started (or happened) since');

/** `chain:source/team-a/app@sha256:…` → `dchain:source/team-a/app`. */
function chainResource(id: string): string {
  const body = id.slice('chain:'.length, id.lastIndexOf('@'));
  const slash = body.indexOf('/');
  return resourceOf(body.slice(0, slash), body.slice(slash + 1));
}

/** Offset cursors over a listing that is sorted the same way on every call. */
function page<T>(items: T[], limit: number, cursor: string | undefined): { items: T[]; next?: string } {
  let offset = 0;
  if (cursor !== undefined) {
    const parsed = /^o(\d+)$/.exec(Buffer.from(cursor, 'base64url').toString());
    if (!parsed) throw new ApiError(400, 'BAD_INPUT', `cursor "${cursor}" is not one this API returned`);
    offset = Number(parsed[1]);
  }
  const slice = items.slice(offset, offset + limit);
  return offset + limit < items.length ? { items: slice, next: Buffer.from(`o${offset + limit}`).toString('base64url') } : { items: slice };
}

const scanViewSchema = z.object({
  id: z.string(),
  image: z.object({ registry: z.string(), repository: z.string(), digest: z.string(), reference: z.string() }),
  status: z.enum(['running', 'completed', 'failed']),
  verdict: z.enum(['allowed', 'denied']).optional(),
  decision: z.unknown().optional(),
  counts: z.record(z.string(), z.number()).optional(),
  findings: z.array(z.unknown()).optional(),
  sbom: z.unknown().optional(),
  error: z.string().optional(),
});

export function controlRoutes(deps: ControlDeps): RouteDef[] {
  const { config, client, redis } = deps;
  const decisions = new DecisionStore(redis);
  const sboms = new RedisSbomStore(redis);
  const { registries } = deps;
  const scanMemo = async (id: string): Promise<ScanJobInput> => {
    try {
      const d = await client.workflow.getHandle(id).describe();
      if (d.type !== WORKFLOW_TYPES.scanJob) throw new ChainError('NOT_FOUND', `no scan with id ${id}`);
      return d.memo?.image as ScanJobInput;
    } catch (err) {
      if ((err as Error).name === 'WorkflowNotFoundError') throw new ChainError('NOT_FOUND', `no scan with id ${id}`);
      throw err;
    }
  };

  return [
    defineRoute({
      method: 'POST',
      path: '/v1/scans',
      summary: 'Scan an image now with the chain’s engine and policy (nothing is signed, copied or recorded for admission)',
      action: 'scan:Create',
      changesState: true,
      body: imageBody,
      responses: { 202: { description: 'The scan job started', schema: scanViewSchema } },
      resource: async ({ body }) => {
        const image = await resolveImage(registries, body.image);
        return resourceOf(image.registry, image.repository);
      },
      handler: async ({ body }) => {
        const image = await resolveImage(registries, body.image);
        const input: ScanJobInput = { registry: image.registry, repository: image.repository, digest: image.digest, reference: body.image };
        const id = scanJobWorkflowId(randomUUID());
        await client.workflow.start(WORKFLOW_TYPES.scanJob, { taskQueue: config.temporal.taskQueue, workflowId: id, args: [input], memo: { image: input } });
        return {
          status: 202,
          body: { id, image: input, status: 'running' },
          auditReason: `scan ${id} of ${image.registry}/${image.repository}@${image.digest}`,
        };
      },
    }),
    defineRoute({
      method: 'GET',
      path: '/v1/scans/:id',
      summary: 'A scan job: its findings, SBOM (CycloneDX) and verdict once done',
      action: 'scan:Read',
      changesState: false,
      params: z.object({ id: z.string().regex(/^scan:[0-9a-f-]{36}$/, 'a scan id scan:<uuid>') }),
      query: z.object({ sbom: z.enum(['true', 'false']).default('true').describe('Include the CycloneDX SBOM') }),
      responses: { 200: { description: 'The scan', schema: scanViewSchema } },
      resource: async ({ params }) => {
        const image = await scanMemo(params.id);
        return resourceOf(image.registry, image.repository);
      },
      handler: async ({ params, query }) => {
        const image = await scanMemo(params.id);
        const handle = client.workflow.getHandle(params.id);
        const { status } = await handle.describe();
        if (status.name === 'RUNNING') return { status: 200, body: { id: params.id, image, status: 'running' } };
        if (status.name !== 'COMPLETED') {
          const events = (await handle.fetchHistory()).events ?? [];
          const message = events[events.length - 1]?.workflowExecutionFailedEventAttributes?.failure?.cause?.message ?? status.name.toLowerCase();
          return { status: 200, body: { id: params.id, image, status: 'failed', error: message } };
        }
        const result = (await handle.result()) as ScanJobResult;
        const stored = query.sbom === 'true' ? await sboms.get(image.digest) : undefined;
        return {
          status: 200,
          body: {
            id: params.id,
            image,
            status: 'completed',
            verdict: result.decision.allowed ? 'allowed' : 'denied',
            decision: result.decision,
            counts: result.scan.counts,
            findings: result.scan.findings,
            ...(stored ? { sbom: stored.sbom } : {}),
          },
        };
      },
    }),
    defineRoute({
      method: 'GET',
      path: '/v1/chains',
      summary: 'Chains, one per digest, from the latest run of each (Temporal visibility)',
      action: 'chain:ListChains',
      changesState: false,
      query: z.object({
        repository: z.string().max(300).optional().describe('`<registry>/<repository>` or `<repository>`'),
        stage: z.string().max(40).optional().describe('DcStage of the latest run (`failed`, `blocked`, `done`, or the running stage)'),
        state: chainStateSchema.optional(),
        verdict: z.enum(['allowed', 'denied', 'overridden']).optional(),
        failedStage: z.string().max(40).optional().describe('The stage a failed chain failed in (DcFailedStage)'),
        since,
        ...pageQuery,
      }),
      responses: { 200: { description: 'A page of chains', schema: z.object({ chains: z.array(chainSummarySchema), next: z.string().optional() }) } },
      resource: () => undefined,
      handler: async ({ query, may }) => {
        const all = await listChains(client, config, {
          ...(query.repository ? { repository: query.repository } : {}),
          ...(query.stage ? { stage: query.stage } : {}),
          ...(query.state ? { state: query.state } : {}),
          ...(query.verdict ? { verdict: query.verdict } : {}),
          ...(query.failedStage ? { failedStage: query.failedStage } : {}),
          ...(query.since ? { since: new Date(query.since) } : {}),
        });
        const visible = all.filter((c) => may('chain:ListChains', chainResource(c.id)));
        const { items, next } = page(visible, query.limit, query.cursor);
        return { status: 200, body: { chains: items, ...(next ? { next } : {}) } };
      },
    }),
    defineRoute({
      method: 'GET',
      path: '/v1/chains/:id',
      summary: 'One chain: stages, results, failure and its Temporal UI link',
      action: 'chain:Read',
      changesState: false,
      params: z.object({ id: chainId }),
      responses: { 200: { description: 'The chain', schema: chainDetailSchema } },
      resource: ({ params }) => chainResource(params.id),
      handler: async ({ params }) => ({ status: 200, body: await chainDetail(client, config, params.id) }),
    }),
    defineRoute({
      method: 'POST',
      path: '/v1/chains/:id/retry',
      summary: 'Retry a failed chain: reset it to the workflow task before its failed stage’s first activity',
      action: 'chain:Retry',
      changesState: true,
      params: z.object({ id: chainId }),
      body: z.strictObject({ force: z.boolean().default(false).describe('Retry past ingest.retryFailed.maxRuns failures in a row') }).prefault({}),
      responses: {
        202: {
          description: 'The chain runs again',
          schema: z.object({
            id: z.string(),
            runId: z.string(),
            mode: z.enum(['reset', 'new-run']),
            stage: z.string().optional(),
            resetEventId: z.number().int().optional(),
          }),
        },
      },
      resource: ({ params }) => chainResource(params.id),
      handler: async ({ params, body, token }) => {
        const r = await retryChain(client, redis, config, params.id, {
          force: body.force,
          reason: `retry through the API by token ${token.name} (${token.id})`,
        });
        return {
          status: 202,
          body: { id: params.id, runId: r.runId, mode: r.mode, ...(r.point ? { stage: r.point.stage, resetEventId: r.point.workflowTaskFinishEventId } : {}) },
          auditReason: r.point
            ? `reset to event ${r.point.workflowTaskFinishEventId} before ${r.point.activity} (${r.point.stage}); new run ${r.runId}`
            : `started again (run ${r.runId})`,
        };
      },
    }),
    defineRoute({
      method: 'POST',
      path: '/v1/chains/:id/break-glass',
      summary: 'Let a blocked chain through its gate; the override carries the token’s identity',
      action: 'chain:BreakGlass',
      changesState: true,
      params: z.object({ id: chainId }),
      body: z.strictObject({ reason: z.string().trim().min(3).max(1000).describe('Why (ticket, incident)') }),
      responses: { 202: { description: 'Overridden', schema: z.object({ id: z.string(), runId: z.string(), restarted: z.boolean(), actor: z.string() }) } },
      resource: ({ params }) => chainResource(params.id),
      handler: async ({ params, body, token }) => {
        const actor = `token:${token.name} (${token.id})`;
        const r = await breakGlass(client, params.id, { actor, reason: body.reason });
        return {
          status: 202,
          body: { id: params.id, runId: r.runId, restarted: r.restarted, actor },
          auditReason: `break-glass (${r.restarted ? 'restarted' : 'signalled'}): ${body.reason}`,
        };
      },
    }),
    defineRoute({
      method: 'POST',
      path: '/v1/chains',
      summary: 'Start (or join) the chain of an image, through the same durable queue as registry webhooks',
      action: 'chain:Trigger',
      changesState: true,
      body: imageBody,
      responses: {
        202: { description: 'Queued (or joined / already done: see outcome)', schema: z.object({ id: z.string(), outcome: z.string(), digest: z.string() }) },
      },
      resource: async ({ body }) => {
        const image = await resolveImage(registries, body.image);
        return resourceOf(image.registry, image.repository);
      },
      handler: async ({ body, requestId }) => {
        const image = await resolveImage(registries, body.image);
        const submitted = await deps.queue.submit({
          registry: image.registry,
          repository: image.repository,
          digest: image.digest,
          tags: image.tag ? [image.tag] : [],
          pushedAt: new Date().toISOString(),
          source: 'api',
          deliveryId: requestId,
        });
        return {
          status: 202,
          body: { id: submitted.workflowId, outcome: submitted.outcome, digest: image.digest },
          auditReason: `trigger: ${submitted.outcome}`,
        };
      },
    }),
    defineRoute({
      method: 'GET',
      path: '/v1/images/:digest/decision',
      summary: 'The latest gate decision of a digest (VEX and allowlists applied, break-glass override) and its history',
      action: 'decision:Read',
      changesState: false,
      params: z.object({ digest: z.string().regex(DIGEST, 'sha256:<64 hex>') }),
      query: z.object({ history: z.coerce.number().int().min(0).max(100).default(10) }),
      responses: {
        200: {
          description: 'The decision',
          schema: z.object({ digest: z.string(), allowed: z.boolean(), latest: z.unknown(), history: z.array(z.unknown()) }),
        },
      },
      resource: async ({ params }) => {
        const latest = await decisions.latest(params.digest);
        if (!latest) throw new ChainError('NOT_FOUND', `no gate decision recorded for ${params.digest}`);
        return resourceOf(registries.find(latest.facts.registry)?.name ?? latest.facts.registry, latest.facts.repository);
      },
      handler: async ({ params, query }) => {
        const latest = await decisions.latest(params.digest);
        if (!latest) throw new ChainError('NOT_FOUND', `no gate decision recorded for ${params.digest}`);
        const history = query.history > 0 ? await decisions.history(params.digest, query.history) : [];
        return { status: 200, body: { digest: params.digest, allowed: latest.decision.allowed || latest.override !== undefined, latest, history } };
      },
    }),
    defineRoute({
      method: 'GET',
      path: '/v1/rescans',
      summary: 'Recent rescans (the schedule’s runs and the ones started here)',
      action: 'rescan:Read',
      changesState: false,
      query: z.object(pageQuery),
      responses: {
        200: {
          description: 'Rescans, newest first',
          schema: z.object({
            rescans: z.array(z.object({ id: z.string(), runId: z.string(), status: z.string(), startTime: z.string(), closeTime: z.string().optional() })),
            next: z.string().optional(),
          }),
        },
      },
      resource: () => GLOBAL_RESOURCE,
      handler: async ({ query }) => {
        const runs: Array<{ id: string; runId: string; status: string; startTime: string; closeTime?: string }> = [];
        for await (const e of client.workflow.list({ query: `WorkflowType = '${WORKFLOW_TYPES.rescan}'` })) {
          runs.push({
            id: e.workflowId,
            runId: e.runId,
            status: e.status.name.toLowerCase(),
            startTime: e.startTime.toISOString(),
            ...(e.closeTime ? { closeTime: e.closeTime.toISOString() } : {}),
          });
          if (runs.length >= 1000) break;
        }
        runs.sort((a, b) => b.startTime.localeCompare(a.startTime));
        const { items, next } = page(runs, query.limit, query.cursor);
        return { status: 200, body: { rescans: items, ...(next ? { next } : {}) } };
      },
    }),
    defineRoute({
      method: 'POST',
      path: '/v1/rescans',
      summary: 'Rescan every gated image now (triggers the rescan schedule, or joins its running rescan)',
      action: 'rescan:Start',
      changesState: true,
      responses: { 202: { description: 'The rescan', schema: z.object({ id: z.string(), attached: z.boolean() }) } },
      resource: () => GLOBAL_RESOURCE,
      handler: async () => {
        const started = await startRescan(client);
        return {
          status: 202,
          body: { id: started.workflowId, attached: started.attached },
          auditReason: `${started.attached ? 'joined' : 'started'} ${started.workflowId}`,
        };
      },
    }),
    defineRoute({
      method: 'POST',
      path: '/v1/tokens',
      summary: 'Create a token bound to policy documents; the token is in this answer only',
      action: 'token:Create',
      changesState: true,
      body: createTokenSchema,
      responses: { 201: { description: 'Created', schema: tokenInfoSchema.extend({ token: z.string() }) } },
      resource: () => GLOBAL_RESOURCE,
      handler: async ({ body }) => {
        const { token, secret } = await deps.tokens.create(body);
        return { status: 201, body: { ...token, token: secret }, auditReason: `created token ${token.id} (${token.name})` };
      },
    }),
    defineRoute({
      method: 'GET',
      path: '/v1/tokens',
      summary: 'Every token (never secrets or hashes)',
      action: 'token:List',
      changesState: false,
      responses: { 200: { description: 'Tokens', schema: z.object({ tokens: z.array(tokenInfoSchema) }) } },
      resource: () => GLOBAL_RESOURCE,
      handler: async () => ({ status: 200, body: { tokens: await deps.tokens.list() } }),
    }),
    defineRoute({
      method: 'DELETE',
      path: '/v1/tokens/:id',
      summary: 'Revoke a token (at once)',
      action: 'token:Revoke',
      changesState: true,
      params: z.object({ id: z.string().regex(/^[a-f0-9]{16}$/, 'a token id (16 hex digits)') }),
      responses: { 200: { description: 'Revoked', schema: tokenInfoSchema } },
      resource: () => GLOBAL_RESOURCE,
      handler: async ({ params }) => {
        const token = await deps.tokens.revoke(params.id);
        return { status: 200, body: token, auditReason: `revoked token ${token.id} (${token.name})` };
      },
    }),
    defineRoute({
      method: 'GET',
      path: '/v1/audit',
      summary: 'The audit log, newest first',
      action: 'audit:Read',
      changesState: false,
      query: z.object({
        actor: z.string().max(200).optional().describe('Token id or name'),
        action: z.string().max(100).optional().describe('An action, or a prefix ending in * (chain:*)'),
        resource: z.string().max(500).optional().describe('A resource, or a prefix ending in *'),
        since,
        ...pageQuery,
      }),
      responses: { 200: { description: 'A page of entries', schema: z.object({ entries: z.array(auditEntrySchema), next: z.string().optional() }) } },
      resource: () => GLOBAL_RESOURCE,
      handler: async ({ query }) => {
        const { entries, next } = await deps.audit.list(auditFilter(query), { limit: query.limit, ...(query.cursor ? { cursor: query.cursor } : {}) });
        return { status: 200, body: { entries, ...(next ? { next } : {}) } };
      },
    }),
    defineRoute({
      method: 'GET',
      path: '/v1/audit/export',
      summary: 'The audit log as JSON Lines (one entry per line, newest first)',
      action: 'audit:Read',
      changesState: false,
      query: z.object({ actor: z.string().max(200).optional(), action: z.string().max(100).optional(), resource: z.string().max(500).optional(), since }),
      responses: { 200: { description: 'JSON Lines', schema: z.string(), contentType: 'application/jsonl' } },
      resource: () => GLOBAL_RESOURCE,
      handler: async ({ query }) => {
        const { entries } = await deps.audit.list(auditFilter(query), { limit: 100_000 });
        return { status: 200, body: entries.map((e) => JSON.stringify(e)).join('\n') + (entries.length ? '\n' : ''), contentType: 'application/jsonl' };
      },
    }),
  ];
}

function auditFilter(query: { actor?: string | undefined; action?: string | undefined; resource?: string | undefined; since?: string | undefined }) {
  return {
    ...(query.actor ? { actor: query.actor } : {}),
    ...(query.action ? { action: query.action } : {}),
    ...(query.resource ? { resource: query.resource } : {}),
    ...(query.since ? { since: new Date(query.since) } : {}),
  };
}
