/**
 * Chains as the control API shows them, from Temporal visibility: one entry per digest (workflow
 * id), from its latest run — a digest whose failed chain was replayed successfully is no longer
 * "failed", whatever its old runs say.
 */
import { type Client, type WorkflowExecutionInfo } from '@temporalio/client';
import { z } from 'zod';
import { QUERIES, WORKFLOW_TYPES } from '../../src/chain';
import { type Config } from '../../src/config';
import { ChainError } from '../../src/errors';
import { failedStage } from '../temporal/chain-reset';

export const chainStateSchema = z.enum(['running', 'delivered', 'blocked', 'failed', 'terminated', 'cancelled', 'timed-out']);

export const chainSummarySchema = z.object({
  id: z.string(),
  runId: z.string(),
  /** `<registry>/<repository>` as the chain records it. */
  repository: z.string(),
  digest: z.string(),
  tags: z.array(z.string()),
  state: chainStateSchema,
  /** DcStage of the latest run (`failed`, `blocked`, `done` when ended). */
  stage: z.string(),
  verdict: z.string().optional(),
  /** The stage a failed chain failed in (DcFailedStage, when the chain records it). */
  failedStage: z.string().optional(),
  startTime: z.string(),
  closeTime: z.string().optional(),
  /** The run in the Temporal Web UI. */
  link: z.string(),
});
export type ChainSummary = z.infer<typeof chainSummarySchema>;

export const chainDetailSchema = chainSummarySchema.extend({
  /** Each stage's result, as the chain's `status` query reports it (absent when no worker answered). */
  results: z.record(z.string(), z.unknown()).optional(),
  failure: z.object({ message: z.string(), type: z.string().optional(), stage: z.string().optional() }).optional(),
  runs: z.number().int(),
});
export type ChainDetail = z.infer<typeof chainDetailSchema>;

function first(attrs: Record<string, unknown> | undefined, key: string): string | undefined {
  const value = attrs?.[key];
  const v = Array.isArray(value) ? value[0] : value;
  return v === undefined || v === null ? undefined : String(v);
}

export function uiBase(config: Config): string {
  return config.temporal.address ? `http://${config.temporal.address.split(':')[0]}:8233` : `http://127.0.0.1:${config.temporal.devServer.uiPort}`;
}

function stateOf(status: string, stage: string): ChainSummary['state'] {
  switch (status) {
    case 'RUNNING':
    case 'CONTINUED_AS_NEW':
      return 'running';
    case 'COMPLETED':
      return 'delivered';
    case 'FAILED':
      return stage === 'blocked' ? 'blocked' : 'failed';
    case 'CANCELLED':
      return 'cancelled';
    case 'TIMED_OUT':
      return 'timed-out';
    default:
      return 'terminated';
  }
}

export function summarize(
  config: Config,
  e: Pick<WorkflowExecutionInfo, 'searchAttributes' | 'workflowId' | 'runId' | 'status' | 'startTime' | 'closeTime'>,
): ChainSummary {
  const attrs = e.searchAttributes as Record<string, unknown> | undefined;
  const stage = first(attrs, 'DcStage') ?? '';
  const tags = attrs?.DcTags;
  const verdict = first(attrs, 'DcVerdict');
  const failedStage = first(attrs, 'DcFailedStage');
  const digest = first(attrs, 'DcDigest') ?? e.workflowId.slice(e.workflowId.lastIndexOf('@') + 1);
  return {
    id: e.workflowId,
    runId: e.runId,
    repository: first(attrs, 'DcRepository') ?? e.workflowId.slice('chain:'.length, e.workflowId.lastIndexOf('@')),
    digest,
    tags: Array.isArray(tags) ? tags.map(String) : [],
    state: stateOf(e.status.name, stage),
    stage,
    ...(verdict ? { verdict } : {}),
    ...(failedStage ? { failedStage } : {}),
    startTime: e.startTime.toISOString(),
    ...(e.closeTime ? { closeTime: e.closeTime.toISOString() } : {}),
    link: `${uiBase(config)}/namespaces/${encodeURIComponent(config.temporal.namespace)}/workflows/${encodeURIComponent(e.workflowId)}/${e.runId}/history`,
  };
}

const quote = (v: string) => `"${v.replace(/["\\]/g, '\\$&')}"`;

export interface ChainFilter {
  repository?: string;
  stage?: string;
  state?: ChainSummary['state'];
  verdict?: string;
  failedStage?: string;
  since?: Date;
}

/** Failed chains whose stage one listing derives from history when they do not record it. */
const MAX_DERIVED = 500;

/** The stage a failed run failed in, from its history; undefined when it never entered one. */
async function failedStageOf(client: Client, workflowId: string, runId: string): Promise<string | undefined> {
  try {
    return failedStage((await client.workflow.getHandle(workflowId, runId).fetchHistory()).events ?? []);
  } catch {
    return undefined;
  }
}

/** Most runs one listing reads from visibility (the newest first). */
const MAX_RUNS = 20_000;

/** The latest run of every chain matching `filter`, newest first. */
export async function listChains(client: Client, config: Config, filter: ChainFilter): Promise<ChainSummary[]> {
  const clauses = [`WorkflowType = '${WORKFLOW_TYPES.deliveryChain}'`];
  if (filter.repository) {
    // `source/team/app` names registry and repository; `team/app` the repository in any registry.
    const withRegistry = config.registries.some((r) => filter.repository!.startsWith(`${r.name}/`));
    clauses.push(withRegistry ? `DcRepository = ${quote(filter.repository)}` : `DcRepositoryName = ${quote(filter.repository)}`);
  }
  if (filter.since) clauses.push(`StartTime >= ${quote(filter.since.toISOString())}`);
  const latest = new Map<string, WorkflowExecutionInfo>();
  let read = 0;
  for await (const e of client.workflow.list({ query: clauses.join(' AND ') })) {
    const seen = latest.get(e.workflowId);
    if (!seen || seen.startTime < e.startTime) latest.set(e.workflowId, e);
    if (++read >= MAX_RUNS) break;
  }
  const summaries = [...latest.values()].map((e) => summarize(config, e));
  // Chains that do not record DcFailedStage: the failed stage from their history (failed chains only, a bounded number).
  const underived = summaries.filter((c) => c.state === 'failed' && !c.failedStage).slice(0, MAX_DERIVED);
  for (let i = 0; i < underived.length; i += 8) {
    await Promise.all(
      underived.slice(i, i + 8).map(async (c) => {
        const stage = await failedStageOf(client, c.id, c.runId);
        if (stage) c.failedStage = stage;
      }),
    );
  }
  return summaries
    .filter(
      (c) =>
        (filter.stage === undefined || c.stage === filter.stage) &&
        (filter.state === undefined || c.state === filter.state) &&
        (filter.verdict === undefined || c.verdict === filter.verdict) &&
        (filter.failedStage === undefined || c.failedStage === filter.failedStage),
    )
    .sort((a, b) => (a.startTime === b.startTime ? a.id.localeCompare(b.id) : b.startTime.localeCompare(a.startTime)));
}

/** One chain: its latest run, stage results, failure and the failed stage (from history when not recorded). */
export async function chainDetail(client: Client, config: Config, workflowId: string): Promise<ChainDetail> {
  const runs: WorkflowExecutionInfo[] = [];
  for await (const e of client.workflow.list({ query: `WorkflowId = ${quote(workflowId)}` })) runs.push(e);
  if (runs.length === 0) throw new ChainError('NOT_FOUND', `no chain with id ${workflowId}`);
  const handle = client.workflow.getHandle(workflowId);
  const description = await handle.describe();
  const summary = summarize(config, description);
  let results: Record<string, unknown> | undefined;
  try {
    const status = await Promise.race([
      handle.query<{ results: Record<string, unknown> }>(QUERIES.status),
      new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 5000).unref()),
    ]);
    results = status?.results;
  } catch {
    // No worker of the chain's task queue answers (or the type has no such query): results are left out.
  }
  let failure: ChainDetail['failure'];
  if (summary.state === 'failed' || summary.state === 'blocked') {
    const history = await handle.fetchHistory();
    const events = history.events ?? [];
    const failed = events[events.length - 1]?.workflowExecutionFailedEventAttributes?.failure;
    const stage = summary.failedStage ?? (summary.state === 'failed' ? failedStage(events) : undefined);
    failure = {
      message: failed?.message ?? 'failed',
      ...(failed?.applicationFailureInfo?.type ? { type: failed.applicationFailureInfo.type } : {}),
      ...(stage ? { stage } : {}),
    };
    if (stage && !summary.failedStage) summary.failedStage = stage;
  }
  return { ...summary, ...(results ? { results } : {}), ...(failure ? { failure } : {}), runs: runs.length };
}
