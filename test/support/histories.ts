import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { type WorkflowHandle } from '@temporalio/client';
import { PROJECT_ROOT, requireTool } from '../../workers/local/tools';

export const HISTORIES_DIR = resolve(__dirname, '..', 'fixtures', 'histories');

/**
 * With RECORD_HISTORIES=1, keeps the history of a real run as a replay fixture, exported by the
 * Temporal CLI in its JSON form (test/unit/workflows/replay.test.ts replays every one).
 */
export async function recordHistory(name: string, handle: WorkflowHandle, temporalAddress: string): Promise<void> {
  if (process.env.RECORD_HISTORIES !== '1') return;
  const { runId } = await handle.describe();
  const json = execFileSync(
    requireTool('temporal', 'the Temporal CLI'),
    ['workflow', 'show', '--address', temporalAddress, '--workflow-id', handle.workflowId, '--run-id', runId, '--output', 'json'],
    { env: { ...process.env, TEMPORAL_VERSION_CHECK_DISABLED: '1' }, maxBuffer: 64 * 1024 * 1024 },
  );
  // Stack traces in failures name files by absolute path: keep them relative to the project.
  writeFileSync(join(HISTORIES_DIR, `${name}.json`), json.toString('utf8').split(`${PROJECT_ROOT}/`).join(''));
}
