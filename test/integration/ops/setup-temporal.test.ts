import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { Connection } from '@temporalio/client';
import { SEARCH_ATTRIBUTE_TYPES } from '../../../src/chain';
import { onCleanup, testDataDir, useTemporal } from '../../support/services';

const ROOT = resolve(__dirname, '..', '..', '..');

function setupTemporal(configFile: string): { namespace: string; added: string[]; present: string[] } {
  const r = spawnSync(process.execPath, [join(ROOT, 'bin', 'dchain.js'), '--config', configFile, 'setup-temporal', '--json'], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 120_000,
  });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as { namespace: string; added: string[]; present: string[] };
}

/** `dchain setup-temporal` against a real Temporal server: a new namespace gets every attribute once. */
describe('dchain setup-temporal', () => {
  it("creates the namespace and registers the chain's search attributes (DcFailedStage too), once", { timeout: 300_000 }, async () => {
    const dataDir = testDataDir();
    const temporal = await useTemporal(dataDir);
    const all = Object.keys(SEARCH_ATTRIBUTE_TYPES).sort();
    const configFor = (namespace: string) => {
      const file = join(dataDir, `${namespace}.json`);
      writeFileSync(file, JSON.stringify({ dataDir, temporal: { address: temporal.address, namespace } }));
      return file;
    };

    // The dev server registered them in its namespace from its command line.
    const dev = setupTemporal(configFor('default'));
    assert.deepEqual(dev.added, []);
    assert.deepEqual(dev.present.sort(), all);

    // A namespace of an existing cluster: created, every attribute registered; a second run changes nothing.
    const first = setupTemporal(configFor('ops-setup'));
    assert.deepEqual(first.added.sort(), all);
    const second = setupTemporal(configFor('ops-setup'));
    assert.deepEqual(second.added, []);

    const connection = await Connection.connect({ address: temporal.address });
    onCleanup(() => connection.close());
    const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace: 'ops-setup' });
    assert.equal(Number(customAttributes?.DcFailedStage), 2, 'DcFailedStage is a Keyword');
    // The runbook's query is accepted there.
    await connection.workflowService.listWorkflowExecutions({ namespace: 'ops-setup', query: 'DcFailedStage = "sync" AND ExecutionStatus = "Failed"' });
  });

  it('the dev server registers an attribute its existing database lacks when it starts (an upgraded `npm start`)', { timeout: 300_000 }, async () => {
    const temporal = await useTemporal(testDataDir());
    const query = { namespace: 'default', query: 'DcFailedStage = "sync"' };
    let connection = await Connection.connect({ address: temporal.address });
    // A database from before DcFailedStage existed: the dev server's --search-attribute does not add it to one.
    await connection.operatorService.removeSearchAttributes({ namespace: 'default', searchAttributes: ['DcFailedStage'] });
    await assert.rejects(connection.workflowService.listWorkflowExecutions(query), /DcFailedStage/);
    await connection.close();

    await temporal.process.stop();
    await temporal.process.start();
    connection = await Connection.connect({ address: temporal.address });
    onCleanup(() => connection.close());
    const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace: 'default' });
    assert.equal(Number(customAttributes?.DcFailedStage), 2);
    await connection.workflowService.listWorkflowExecutions(query);
  });
});
