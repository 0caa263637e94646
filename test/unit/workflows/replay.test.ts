import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { Worker } from '@temporalio/worker';
import { HISTORIES_DIR } from '../../support/histories';

/**
 * Determinism: histories recorded from real runs (RECORD_HISTORIES=1 npm test -- test/integration/chain)
 * must replay against the current workflow code. A change that breaks one needs `patched()`.
 */
describe('workflow replay of recorded histories', () => {
  const files = readdirSync(HISTORIES_DIR)
    .filter((f) => f.endsWith('.json'))
    .sort();

  it('has recorded histories to replay', () => {
    assert.ok(files.length >= 5, `found ${files.length}`);
  });

  it('replays every recorded history without nondeterminism', async () => {
    const histories = files.map((f) => ({
      workflowId: f.replace(/\.json$/, ''),
      history: historyFromJSON(JSON.parse(readFileSync(join(HISTORIES_DIR, f), 'utf8'))),
    }));
    const failures: string[] = [];
    let replayed = 0;
    for await (const result of Worker.runReplayHistories(
      { workflowsPath: require.resolve('../../../workflows'), replayName: 'delivery-chain-replay' },
      histories,
    )) {
      replayed++;
      if (result.error) failures.push(`${result.workflowId}: ${result.error.message}`);
    }
    assert.equal(replayed, files.length);
    assert.deepEqual(failures, []);
  });
});
