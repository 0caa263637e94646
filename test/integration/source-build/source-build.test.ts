import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { buildFromSource } from '../../../src/source-build/build-from-source';
import { buildRequestFromPush } from '../../../src/source-build/rules';
import { parseGitPush } from '../../../src/source-build/git-webhook/payloads';
import { hmacHex, verifyGitDelivery } from '../../../src/source-build/git-webhook/verify';
import { SLSA_PROVENANCE_V1 } from '../../../src/source-build/provenance';
import { type Config, configSchema } from '../../../src/config/schema';
import { ChainError } from '../../../src/errors/chain-error';
import { RegistryClient } from '../../../src/registry';
import { MemorySbomStore, OsvSource, scanImage } from '../../../src/scan';
import { busyboxSpec, pushImage, writeOciImage } from '../../support/images';
import { testDataDir, useRegistry } from '../../support/services';
import { GitFixture } from '../../support/git-fixture';

const SECRET = 'github-webhook-secret-for-tests';

function multiStageDockerfile(base: string): string {
  return [
    '# syntax=docker/dockerfile:1',
    'ARG BASE=' + base,
    'FROM ${BASE} AS builder',
    '# a setuid and a setgid binary, as careless build stages make them',
    'RUN mkdir -p /out && cp /bin/busybox /out/tool && chmod 4755 /out/tool \\',
    ' && cp /bin/busybox /out/gtool && chmod 2755 /out/gtool',
    '',
    'FROM ${BASE}',
    'COPY --from=builder /out/ /usr/local/bin/',
    'USER 1000',
    '',
  ].join('\n');
}

void describe('source build: Git push → rules → buildah → staging registry', () => {
  let config: Config;
  let client: RegistryClient;
  let git: GitFixture;
  let baseDigest: string;
  let host: string;

  before(async () => {
    const registry = await useRegistry();
    host = registry.host;
    const dataDir = testDataDir();
    const layout = join(dataDir, 'base');
    const base = await writeOciImage(layout, busyboxSpec({ applets: ['sh', 'cp', 'chmod', 'mkdir', 'ls', 'cat', 'sleep'] }), 'v1');
    baseDigest = base.digest;
    await pushImage(layout, 'v1', `${host}/base/busybox:v1`);
    git = new GitFixture(testDataDir());
    config = configSchema.parse({
      dataDir,
      registries: [{ name: 'staging', url: registry.url }],
      sources: [],
      sync: { targets: [] },
      build: {
        staging: { registry: 'staging', repository: 'builds/${repo}' },
        rules: [
          { ref: '^refs/tags/release-(?<tag>.+)$', tags: ['${tag}', 'release'] },
          { ref: '^refs/heads/main$', tags: ['main-${shortCommit}'] },
        ],
        gitSources: [{ name: 'forge', format: 'github', secret: SECRET }],
      },
    });
    client = new RegistryClient({ name: 'staging', url: registry.url });
  });

  void it('builds a multi-stage Dockerfile pushed as a release tag: setuid stripped, USER kept, provenance names the commit', async () => {
    const commit = git.commit({ Dockerfile: multiStageDockerfile(`${host}/base/busybox:v1`), 'README.md': 'app\n' }, 'first release', 'release-1.4.0');
    const body = Buffer.from(
      JSON.stringify({
        ref: 'refs/tags/release-1.4.0',
        before: '0'.repeat(40),
        after: commit,
        created: true,
        deleted: false,
        head_commit: { id: commit, message: 'first release' },
        repository: { full_name: 'team/app', clone_url: `file://${git.bare}` },
        pusher: { name: 'pusher', email: 'pusher@example.test' },
      }),
    );
    const headers = { 'x-github-event': 'push', 'x-github-delivery': 'delivery-1', 'x-hub-signature-256': `sha256=${hmacHex(SECRET, body)}` };
    verifyGitDelivery('github', headers, body, SECRET);
    const parsed = parseGitPush('github', 'forge', headers, body);
    assert.equal(parsed.kind, 'push');
    assert.ok(parsed.kind === 'push');
    const request = buildRequestFromPush(parsed.push, config.build.rules, config.build.staging);
    assert.ok(request);
    assert.deepEqual(
      { repository: request.repository, tags: request.tags, commit: request.commit },
      { repository: 'builds/app', tags: ['1.4.0', 'release'], commit },
    );

    const phases = new Set<string>();
    const built = await buildFromSource(request, { config, registry: client, onProgress: (p) => phases.add(p.phase) });
    assert.deepEqual([...phases], ['checkout', 'build', 'harden', 'push', 'tag']);
    assert.match(built.digest, /^sha256:[a-f0-9]{64}$/);
    assert.equal(built.commit, commit);
    assert.equal(built.multiStage, true);
    assert.deepEqual(built.strippedSetuid, ['/usr/local/bin/gtool', '/usr/local/bin/tool']);
    assert.equal(built.user, '1000');
    assert.equal(built.runsAsRoot, false);
    assert.deepEqual(built.warnings, []);

    // Both tags name the pushed digest.
    assert.equal((await client.headManifest('builds/app', '1.4.0'))?.digest, built.digest);
    assert.equal((await client.headManifest('builds/app', 'release'))?.digest, built.digest);

    // The scanner's hygiene check over the merged filesystem of the pushed image: no setuid/setgid file left.
    const osv = new OsvSource({ directory: join(__dirname, '../../fixtures/osv') });
    const scan = await scanImage(
      { source: client, registryName: 'staging', registryHost: client.host, osv, sbomStore: new MemorySbomStore() },
      { repository: 'builds/app', reference: built.digest },
    );
    assert.deepEqual(scan.summary.hygiene.setuidFiles, []);
    assert.equal(scan.summary.hygiene.runsAsRoot, false);

    const { predicateType, predicate } = built.provenance;
    assert.equal(predicateType, SLSA_PROVENANCE_V1);
    assert.deepEqual(predicate.buildDefinition.externalParameters, {
      repository: `file://${git.bare}`,
      ref: 'refs/tags/release-1.4.0',
      commit,
      dockerfile: 'Dockerfile',
      context: '.',
    });
    assert.deepEqual(predicate.buildDefinition.resolvedDependencies, [
      { uri: `git+file://${git.bare}@refs/tags/release-1.4.0`, digest: { gitCommit: commit } },
      { uri: `oci://${host}/base/busybox:v1`, digest: { sha256: baseDigest.slice(7) }, name: `${host}/base/busybox:v1` },
    ]);
    assert.ok(Date.parse(predicate.runDetails.metadata.finishedOn) >= Date.parse(predicate.runDetails.metadata.startedOn));

    // Rebuilding the same commit (a retried activity) yields the same digest: timestamps come from the commit.
    const again = await buildFromSource(request, { config, registry: client });
    assert.equal(again.digest, built.digest);

    // Without the hardening step the same check does see both files: the assertion above can fail.
    const lax = { ...config, build: { ...config.build, hardening: { ...config.build.hardening, stripSetuid: false } } };
    const unhardened = await buildFromSource({ ...request, repository: 'builds/unhardened' }, { config: lax, registry: client });
    assert.deepEqual(unhardened.strippedSetuid, []);
    const laxScan = await scanImage(
      { source: client, registryName: 'staging', registryHost: client.host, osv, sbomStore: new MemorySbomStore() },
      { repository: 'builds/unhardened', reference: unhardened.digest },
    );
    assert.deepEqual(laxScan.summary.hygiene.setuidFiles.sort(), ['/usr/local/bin/gtool', '/usr/local/bin/tool']);
  });

  void it('fails a broken Dockerfile for good, and refuses a root image when configured to', async () => {
    const broken = git.commit({ Dockerfile: `FROM ${host}/base/busybox:v1\nRUN exit 3\n` }, 'broken');
    const request = { repoUrl: git.bare, ref: 'refs/heads/main', commit: broken, registry: 'staging', repository: 'builds/app', source: 'cli' };
    await assert.rejects(buildFromSource(request, { config, registry: client }), (err: unknown) => {
      assert.ok(ChainError.is(err, 'BUILD_FAILED'), String(err));
      assert.equal(err.retryable, false);
      return true;
    });

    const rootImage = git.commit({ Dockerfile: `FROM ${host}/base/busybox:v1\nRUN echo built > /built\n` }, 'runs as root');
    const strict = { ...config, build: { ...config.build, hardening: { ...config.build.hardening, rootUser: 'refuse' as const } } };
    await assert.rejects(buildFromSource({ ...request, commit: rootImage }, { config: strict, registry: client }), (err: unknown) =>
      ChainError.is(err, 'POLICY_DENIED'),
    );
    const warned = await buildFromSource({ ...request, commit: rootImage }, { config, registry: client });
    assert.equal(warned.multiStage, false);
    assert.equal(warned.runsAsRoot, true);
    assert.deepEqual(warned.tags, [`sha-${rootImage.slice(0, 12)}`]);
    assert.match(warned.warnings[0] ?? '', /runs as root/);
  });

  void it('stops buildah when cancelled and leaves no working container behind', async () => {
    const slow = git.commit({ Dockerfile: `FROM ${host}/base/busybox:v1\nRUN sleep 120\n` }, 'slow');
    const controller = new AbortController();
    const started = Date.now();
    const building = buildFromSource(
      { repoUrl: git.bare, ref: 'refs/heads/main', commit: slow, registry: 'staging', repository: 'builds/slow', source: 'cli' },
      { config, registry: client, signal: controller.signal, onProgress: (p) => p.line?.includes('RUN sleep') && setTimeout(() => controller.abort(), 500) },
    );
    await assert.rejects(building, (err: unknown) => ChainError.is(err, 'TRANSIENT') && /cancelled/.test(err.message));
    assert.ok(Date.now() - started < 30_000);
    const storage = join(config.dataDir, 'buildah');
    const containers = execFileSync(
      'buildah',
      ['--root', join(storage, 'storage'), '--runroot', join(storage, 'run'), '--storage-driver', 'vfs', 'containers', '--quiet'],
      { encoding: 'utf8' },
    );
    assert.equal(containers.trim(), '');
  });
});
