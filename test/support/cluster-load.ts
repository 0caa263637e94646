/**
 * Load on a running topology (failover tests, scaling benchmarks): bursts of pushes with their own
 * digests, and the count of what became of them in Temporal.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { type Client } from '@temporalio/client';
import { pushUniqueImage } from './push';
import { chainWorkflowId } from '../../src/chain';

export interface LoadTarget {
  client: Client;
  /** The source registry, which notifies the API of every push. */
  sourceUrl: string;
  /** Where the pushed images' layouts are written. */
  workDir: string;
}

export interface Row {
  scenario: string;
  injected: string;
  digests: number;
  completed: number;
  lost: number;
  duplicated: number;
  recovery_s: number;
}

/** Pushes `count` images of their own to source/<repository> (`parallel` at a time); returns their digests in push order. */
export async function burst(cluster: LoadTarget, repository: string, count: number, parallel = 4, onPushed?: (n: number) => void): Promise<string[]> {
  const digests: string[] = new Array<string>(count);
  let next = 0;
  let pushed = 0;
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      for (let i = next++; i < count; i = next++) {
        digests[i] = await pushUniqueImage(cluster.workDir, cluster.sourceUrl, repository, `v${i}`, `${repository}-${i}`);
        onPushed?.(++pushed);
      }
    }),
  );
  return digests;
}

/**
 * What became of each digest: completed = its chain ran to the end; lost = it has no completed chain
 * by the deadline; duplicated = digests with more than one chain run (the workflow id is the digest's,
 * so a second run would be a second execution under the same id).
 */
export async function settle(
  cluster: LoadTarget,
  repository: string,
  digests: string[],
  timeoutMs: number,
): Promise<{ completed: number; lost: number; duplicated: number; lastCloseMs: number }> {
  const ids = new Set(digests.map((digest) => chainWorkflowId({ registry: 'source', repository, digest })));
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const runs = new Map<string, { count: number; completed: boolean; closeMs: number }>();
    for await (const wf of cluster.client.workflow.list({ query: `DcRepository = "source/${repository}"` })) {
      const run = runs.get(wf.workflowId) ?? { count: 0, completed: false, closeMs: 0 };
      run.count++;
      if (wf.status.name === 'COMPLETED') {
        run.completed = true;
        run.closeMs = Math.max(run.closeMs, wf.closeTime?.getTime() ?? 0);
      }
      runs.set(wf.workflowId, run);
    }
    const completed = [...ids].filter((id) => runs.get(id)?.completed).length;
    if (completed === ids.size || Date.now() > deadline) {
      return {
        completed,
        lost: ids.size - completed,
        duplicated: [...runs.values()].filter((r) => r.count > 1).length,
        lastCloseMs: Math.max(0, ...[...runs.values()].map((r) => r.closeMs)),
      };
    }
    await delay(2000);
  }
}

/** The table the chaos suite prints, one line per scenario. */
export function printTable(rows: Row[]): void {
  const cols = ['scenario', 'injected', 'digests', 'completed', 'lost', 'duplicated', 'recovery_s'] as const;
  const cell = (r: Row, c: (typeof cols)[number]) => String(r[c]);
  const widths = cols.map((c) => Math.max(c.length, ...rows.map((r) => cell(r, c).length)));
  const line = (values: string[]) => values.map((v, i) => v.padEnd(widths[i] as number)).join(' | ');
  process.stdout.write(`\n${line([...cols])}\n${widths.map((w) => '-'.repeat(w)).join('-|-')}\n`);
  for (const r of rows) process.stdout.write(`${line(cols.map((c) => cell(r, c)))}\n`);
}
