/**
 * scanJob: an on-demand scan (`POST /v1/scans`) — the chain's own scan activity on the scan task
 * queue, then the chain's policy evaluated on it without recording a decision. Nothing is signed,
 * copied or admitted: the result (findings, verdict) is the workflow's result.
 */
import { proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { ChainActivities } from '../activities';
import { scanTaskQueue } from './task-queues';

export interface ScanJobInput {
  registry: string;
  repository: string;
  digest: string;
  /** The reference as requested (tag or digest), for the answer. */
  reference: string;
}

export type ScanJobResult = {
  scan: Awaited<ReturnType<ChainActivities['scanImage']>>;
  decision: Awaited<ReturnType<ChainActivities['previewGate']>>;
};

const RETRY = { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '1m', maximumAttempts: 8 } as const;

export async function scanJob(input: ScanJobInput): Promise<ScanJobResult> {
  const scanning = proxyActivities<ChainActivities>({
    taskQueue: scanTaskQueue(workflowInfo().taskQueue),
    startToCloseTimeout: '30m',
    heartbeatTimeout: '30s',
    retry: RETRY,
  });
  const gate = proxyActivities<ChainActivities>({ startToCloseTimeout: '1m', retry: RETRY });
  const image = { registry: input.registry, repository: input.repository, digest: input.digest };
  const scan = await scanning.scanImage(image);
  const decision = await gate.previewGate({ ...image, scan });
  return { scan, decision };
}
