/**
 * The trustedSources rule on real images in a real registry: the scanner records apt sources
 * (one-line and deb822) and npm lockfile `resolved` URLs, and the gate denies an image naming an
 * untrusted host (with the package and URL in the violation) and allows one that does not.
 */
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { Redis } from 'ioredis';
import { createActivityDeps } from '../../../activities/deps';
import { createGateActivities } from '../../../activities/gate';
import { createScanActivities } from '../../../activities/scan';
import { parseConfig } from '../../../src/config/load';
import { createLogger } from '../../../src/log/logger';
import { type Decision, type Violation } from '../../../src/policy';
import { type ScanSummary } from '../../../src/scan';
import { busyboxSpec, type ImageFile, pushImage, writeOciImage } from '../../support/images';
import { onCleanup, testDataDir, useRedis, useRegistry } from '../../support/services';

const lockfile = (resolvedHost: string) =>
  JSON.stringify({
    name: 'app',
    version: '1.0.0',
    lockfileVersion: 3,
    requires: true,
    packages: {
      '': { name: 'app', version: '1.0.0', dependencies: { 'left-pad': '1.3.0', ms: '2.1.3' } },
      'node_modules/left-pad': {
        version: '1.3.0',
        resolved: `https://${resolvedHost}/left-pad/-/left-pad-1.3.0.tgz`,
        integrity: 'sha512-XI5MPzVNApjAyhQzphX8BkmKsKUxD4LdyK24iZeQuQ8JL7JwrcL2wEPy4SdkD3l9JdgWUKxxMOm4HgmIoLkog==',
      },
      'node_modules/ms': {
        version: '2.1.3',
        resolved: 'https://registry.npmjs.org/ms/-/ms-2.1.3.tgz',
        integrity: 'sha512-6FlzubTLZG3J2a/NVCAleEhjzq5oxgHyaCU9yYXvcLsvoVaHJq/s5xXI6/XXP6tz7R9xAOtHnSO/tXtF3WRTlA==',
      },
    },
  });

const imageSpec = (aptFiles: ImageFile[], resolvedHost: string) =>
  busyboxSpec({
    user: '1000',
    extra: [
      { path: 'etc/apt', type: 'directory' },
      { path: 'etc/apt/sources.list.d', type: 'directory' },
      ...aptFiles,
      { path: 'app', type: 'directory' },
      { path: 'app/package.json', content: JSON.stringify({ name: 'app', version: '1.0.0', dependencies: { 'left-pad': '1.3.0', ms: '2.1.3' } }) },
      { path: 'app/package-lock.json', content: lockfile(resolvedHost) },
    ],
  });

void describe('trustedSources on real images', async () => {
  const dir = testDataDir('dchain-sources-');
  const env = new MockActivityEnvironment({ workflowExecution: { workflowId: 'chain-sources', runId: 'run-1' } });
  const logger = createLogger({ level: 'silent' });
  let host: string;
  let scans: ReturnType<typeof createScanActivities>;
  let gate: ReturnType<typeof createGateActivities>;

  const run = async (name: string, spec: ReturnType<typeof imageSpec>): Promise<{ scan: ScanSummary; decision?: Decision; violations?: Violation[] }> => {
    const digest = (await writeOciImage(join(dir, name), spec, name)).digest;
    await pushImage(join(dir, name), name, `${host}/team/${name}:v1`);
    const scan = (await env.run(scans.scanImage, { registry: 'source', repository: `team/${name}`, digest })) as ScanSummary;
    try {
      return { scan, decision: (await env.run(gate.evaluateGate, { registry: 'source', repository: `team/${name}`, digest, scan })) as Decision };
    } catch (err) {
      assert.ok(err instanceof ApplicationFailure && err.type === 'PolicyDenied', String(err));
      return { scan, violations: err.details as Violation[] };
    }
  };

  before(async () => {
    const registry = await useRegistry({ dataDir: join(dir, 'registry') });
    host = registry.host;
    const redis = new Redis((await useRedis()).url);
    onCleanup(() => redis.disconnect());
    // Real npm records, so the scan has vulnerability data for the image's ecosystem (none affects left-pad or ms).
    mkdirSync(join(dir, 'osv'));
    copyFileSync(join(__dirname, '..', '..', 'fixtures', 'osv', 'npm', 'GHSA-jf85-cpcp-j695.json'), join(dir, 'osv', 'GHSA-jf85-cpcp-j695.json'));
    const policyFile = join(dir, 'policy.json');
    writeFileSync(
      policyFile,
      JSON.stringify({
        apiVersion: 'policy.delivery-chain.dev/v1',
        kind: 'ImagePolicy',
        metadata: { name: 'sources' },
        mode: 'enforce',
        rules: [{ name: 'sources', trustedSources: { apt: ['deb.debian.org', 'security.debian.org'], npm: ['https://registry.npmjs.org/'] } }],
      }),
    );
    const config = parseConfig({
      dataDir: dir,
      registries: [{ name: 'source', url: registry.url }],
      sync: { targets: [] },
      scan: { osv: { directory: join(dir, 'osv') } },
      policy: { file: policyFile },
    });
    scans = createScanActivities(createActivityDeps(config, logger, { redis }));
    gate = createGateActivities({ config, logger, redis });
  });

  void it('allows an image whose apt sources and npm packages come from the trusted hosts', async () => {
    const deb822 =
      'Types: deb\nURIs: http://deb.debian.org/debian\nSuites: bookworm bookworm-updates\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n\nTypes: deb\nURIs: http://deb.debian.org/debian-security\nSuites: bookworm-security\nComponents: main\n\n# disabled mirror\nTypes: deb\nURIs: http://mirror.untrusted.example/debian\nSuites: bookworm\nComponents: main\nEnabled: no\n';
    const { scan, decision } = await run('good', imageSpec([{ path: 'etc/apt/sources.list.d/debian.sources', content: deb822 }], 'registry.npmjs.org'));
    assert.deepEqual(
      scan.sources?.map((s) => [s.ecosystem, s.url, s.package ?? '']),
      [
        ['apt', 'http://deb.debian.org/debian', ''],
        ['apt', 'http://deb.debian.org/debian-security', ''],
        ['npm', 'https://registry.npmjs.org/left-pad/-/left-pad-1.3.0.tgz', 'left-pad'],
        ['npm', 'https://registry.npmjs.org/ms/-/ms-2.1.3.tgz', 'ms'],
      ],
    );
    assert.equal(decision?.allowed, true);
  });

  void it('denies an image whose apt sources or npm resolved URLs name another host, naming the package and URL', async () => {
    const list = '# main\ndeb [arch=amd64] http://deb.debian.org/debian bookworm main\ndeb http://apt.untrusted.example/debian bookworm main\n';
    const { violations } = await run('bad', imageSpec([{ path: 'etc/apt/sources.list', content: list }], 'npm.untrusted.example'));
    assert.deepEqual(
      violations?.map((v) => [v.rule, v.evidence.url, v.evidence.package ?? '']),
      [
        ['trustedSources.apt', 'http://apt.untrusted.example/debian', ''],
        ['trustedSources.npm', 'https://npm.untrusted.example/left-pad/-/left-pad-1.3.0.tgz', 'left-pad'],
      ],
    );
    assert.match(
      violations?.[1]?.message ?? '',
      /npm package left-pad 1\.3\.0 comes from https:\/\/npm\.untrusted\.example\/left-pad\/-\/left-pad-1\.3\.0\.tgz \(\/app\/package-lock\.json\), not a trusted source/,
    );
  });
});
