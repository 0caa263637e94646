import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { TEMPORAL_WORKER_NODE_FLAGS } from '../../../workers/temporal/node-flags';

/** The manifests start the Temporal worker with node directly: each spells out the worker's node flags. */
const ROOT = join(__dirname, '..', '..', '..');
const MANIFESTS = [
  'docker-compose.yml',
  'deploy/compose/cluster.yml',
  'deploy/kubernetes/cluster/chain-worker.yaml',
  'deploy/kubernetes/cluster/scan-worker.yaml',
];

describe('Temporal worker node flags', () => {
  it('are given before the entry point by every manifest that starts the worker', () => {
    assert.ok(TEMPORAL_WORKER_NODE_FLAGS.length > 0);
    for (const file of MANIFESTS) {
      const lines = readFileSync(join(ROOT, file), 'utf8')
        .split('\n')
        .filter((l) => l.includes('dist/workers/temporal-worker.js'));
      assert.ok(lines.length > 0, `${file} starts no Temporal worker`);
      for (const line of lines) {
        const list = JSON.parse(line.slice(line.indexOf('['), line.lastIndexOf(']') + 1)) as string[];
        const entry = list.indexOf('dist/workers/temporal-worker.js');
        assert.deepEqual(list.slice(0, entry), [...TEMPORAL_WORKER_NODE_FLAGS], `${file}: ${line.trim()}`);
      }
    }
  });
});
