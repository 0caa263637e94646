import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { Client, Connection } from '@temporalio/client';
import { type BuiltImage } from '../../../src/source-build/built-image';
import { type BuildChainInput } from '../../../src/source-build/start-chain';
import { PROJECT_ROOT } from '../../../workers/local/tools';
import { busyboxSpec, pushImage, writeOciImage } from '../../support/images';
import { onCleanup, testDataDir, useRegistry, useTemporal } from '../../support/services';
import { GitFixture } from '../../support/git-fixture';

function dchain(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      join(PROJECT_ROOT, 'node_modules', '.bin', 'tsx'),
      [join(PROJECT_ROOT, 'cli', 'dchain.ts'), ...args],
      { timeout: 90_000 },
      (err, stdout, stderr) => {
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
      },
    );
  });
}

void describe('dchain build', () => {
  let configFile: string;
  let git: GitFixture;
  let commit: string;
  let client: Client;

  before(async () => {
    const [registry, temporal] = await Promise.all([useRegistry(), useTemporal()]);
    const dataDir = testDataDir();
    await writeOciImage(join(dataDir, 'base'), busyboxSpec(), 'v1');
    await pushImage(join(dataDir, 'base'), 'v1', `${registry.host}/base/busybox:v1`);
    git = new GitFixture(testDataDir());
    commit = git.commit({ Dockerfile: `FROM ${registry.host}/base/busybox:v1\nUSER 1000\n` }, 'cli build', 'v1.0.0');
    configFile = join(dataDir, 'dchain.json');
    writeFileSync(
      configFile,
      JSON.stringify({
        dataDir,
        temporal: { address: temporal.address, taskQueue: 'cli-build-test' },
        registries: [{ name: 'staging', url: registry.url }],
        sources: [],
        sync: { targets: [] },
        build: { staging: { registry: 'staging', repository: 'ci/${repo}' }, rules: [{ ref: '^refs/tags/v(?<version>.+)$', tags: ['${version}'] }] },
      }),
    );
    const connection = await Connection.connect({ address: temporal.address });
    client = new Client({ connection });
    onCleanup(() => connection.close());
  });

  void it("--local builds the ref with the matching rule's tags and prints the result", async () => {
    const run = await dchain(['-c', configFile, 'build', git.bare, '--ref', 'v1.0.0', '--local', '--json']);
    assert.equal(run.code, 0, run.stderr);
    const built = JSON.parse(run.stdout) as BuiltImage;
    assert.deepEqual([built.repository, built.tags, built.commit, built.user], ['ci/app', ['1.0.0'], commit, '1000']);
    assert.match(built.digest, /^sha256:[a-f0-9]{64}$/);
  });

  void it("starts the build chain on Temporal, pinned to the ref's current commit", async () => {
    const run = await dchain(['-c', configFile, 'build', git.bare, '--ref', 'main', '--tag', 'edge', '--json']);
    assert.equal(run.code, 0, run.stderr);
    const { workflowId, outcome } = JSON.parse(run.stdout) as { workflowId: string; outcome: string };
    assert.deepEqual([workflowId, outcome], [`build:${git.bare}@${commit}`, 'started']);
    const history = await client.workflow.getHandle(workflowId).fetchHistory();
    const data = history.events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0]?.data;
    assert.ok(data);
    const input = JSON.parse(Buffer.from(data).toString('utf8')) as BuildChainInput;
    assert.deepEqual([input.build.ref, input.build.commit, input.tags, input.build.source], ['refs/heads/main', commit, ['edge'], 'cli']);
  });

  void it('names a missing ref', async () => {
    const run = await dchain(['-c', configFile, 'build', git.bare, '--ref', 'nope', '--local']);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /BAD_INPUT: nope does not exist/);
  });
});
