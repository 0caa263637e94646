/**
 * The verdict fails closed, end to end on the real chain: images matched against no data for one of
 * their ecosystems, or against stale data, end blocked with a "vulnerability data" violation; on
 * embedded defaults (built-in policy, OSV exports downloaded — here from a loopback server), the
 * demo's vulnerable/setuid image ends blocked with readable reasons and the clean one is distributed.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, readdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { type AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type ApplicationFailure, type WorkflowFailedError } from '@temporalio/client';
import { Redis } from 'ioredis';
import { parseConfig } from '../../../src/config/load';
import { type Config } from '../../../src/config/schema';
import { DecisionStore } from '../../../src/policy';
import { RegistryClient } from '../../../src/registry';
import { generateKeyPair } from '../../../src/signing';
import { deliveryChain } from '../../../workflows/delivery-chain';
import { useChainWorker, type RunningChainWorker } from '../../support/chain-worker';
import { busyboxSpec, pushImage, writeOciImage } from '../../support/images';
import { testDataDir, useRedis, useRegistry, useTemporal } from '../../support/services';
import { type ChainStatus } from '../../../src/chain';

const ROOT = resolve(__dirname, '../../..');
const FIXTURES = join(ROOT, 'test', 'fixtures', 'osv');

interface Services {
  dataDir: string;
  temporal: { address: string };
  redis: { url: string };
  source: { url: string; host: string };
  mirror: { url: string };
}

function baseConfig(s: Services, name: string, extra: Record<string, unknown>): Config {
  writeFileSync(join(s.dataDir, `${name}.key`), keyPem, { mode: 0o600 });
  return parseConfig({
    dataDir: join(s.dataDir, name),
    temporal: { address: s.temporal.address, taskQueue: `${name}-${process.pid}` },
    redis: { url: s.redis.url },
    registries: [
      { name: 'source', url: s.source.url },
      { name: 'mirror', url: s.mirror.url },
    ],
    sources: [{ name: 'source', registry: 'source', secret: 'webhook-secret-0123456789' }],
    sync: { targets: [{ registry: 'mirror' }] },
    signing: { key: { kind: 'file', path: join(s.dataDir, `${name}.key`), passwordEnv: 'VERDICTS_TEST_KEY_PASSWORD' } },
    ...extra,
  });
}

let keyPem = '';

async function runChain(
  chain: RunningChainWorker,
  config: Config,
  repository: string,
  digest: string,
): Promise<{ status?: ChainStatus; failure?: ApplicationFailure }> {
  const handle = await chain.client.workflow.start(deliveryChain, {
    taskQueue: config.temporal.taskQueue,
    workflowId: `chain:source/${repository}@${digest}`,
    args: [{ registry: 'source', repository, digest, tags: ['v1'], pushedAt: new Date().toISOString(), source: 'test' }],
  });
  try {
    return { status: await handle.result() };
  } catch (err) {
    const status = await handle.query<ChainStatus>('status');
    assert.equal(status.stage, 'blocked', `the chain of ${repository} ended ${status.stage}`);
    return { failure: (err as WorkflowFailedError).cause as ApplicationFailure };
  }
}

const zipDir = (out: string, from: string[]) =>
  execFileSync('python3', [
    '-c',
    'import sys,zipfile,glob,os\nz=zipfile.ZipFile(sys.argv[1],"w",zipfile.ZIP_DEFLATED)\nfor d in sys.argv[2:]:\n  for f in sorted(glob.glob(d+"/*.json")): z.write(f, os.path.basename(f))\nz.close()',
    out,
    ...from,
  ]);

describe('verdicts fail closed and the built-in policy enforces', () => {
  let services: Services;
  let osvBaseUrl: string;
  const exports = new Map<string, Buffer>();
  const requests: string[] = [];
  const osvServer = createServer((req, res) => {
    requests.push(req.url ?? '');
    const eco = decodeURIComponent((req.url ?? '').replace(/^\//, '').replace(/\/all\.zip$/, ''));
    const body = exports.get(eco);
    if (!body) return void res.writeHead(404).end();
    res.writeHead(200, { 'content-type': 'application/zip', etag: `"${eco.length}-${body.length}"`, 'content-length': body.length }).end(body);
  });

  before(async () => {
    const dataDir = testDataDir();
    const [temporal, redis, source, mirror] = await Promise.all([
      useTemporal(dataDir),
      useRedis(dataDir),
      useRegistry({ name: 'source', dataDir }),
      useRegistry({ name: 'mirror', dataDir }),
    ]);
    services = { dataDir, temporal: { address: temporal.address }, redis, source, mirror };
    keyPem = (await generateKeyPair('verdicts-test-password')).privateKeyPem;
    process.env.VERDICTS_TEST_KEY_PASSWORD = 'verdicts-test-password';
    // Real-shaped exports, as the OSV bucket serves them: <Ecosystem>/all.zip.
    for (const [eco, dirs] of Object.entries({ Debian: ['debian'], npm: ['npm'] })) {
      const file = join(dataDir, `${eco}.zip`);
      zipDir(
        file,
        dirs.map((d) => join(FIXTURES, d)),
      );
      exports.set(eco, readFileSync(file));
    }
    await new Promise<void>((r) => osvServer.listen(0, '127.0.0.1', r));
    osvBaseUrl = `http://127.0.0.1:${(osvServer.address() as AddressInfo).port}`;
  });
  after(() => osvServer.close());

  it('blocks images matched against no data for an ecosystem of theirs, or stale data, with a "vulnerability data" violation naming the ecosystem and the age', async () => {
    // A data directory with fresh npm records and Debian records last written 30 days ago; no Alpine records at all.
    const osvDir = join(services.dataDir, 'osv-aged');
    mkdirSync(osvDir);
    cpSync(join(FIXTURES, 'npm'), join(osvDir, 'npm'), { recursive: true });
    cpSync(join(FIXTURES, 'debian'), join(osvDir, 'debian'), { recursive: true });
    const monthAgo = new Date(Date.now() - 30 * 86_400_000);
    for (const f of readdirSync(join(osvDir, 'debian'))) utimesSync(join(osvDir, 'debian', f), monthAgo, monthAgo);
    const config = baseConfig(services, 'aged', { scan: { osv: { directory: osvDir, maxAge: '6h' } } });
    const chain = await useChainWorker(config);

    const images: Record<string, Parameters<typeof busyboxSpec>[0]> = {
      'data/alpine': {
        user: '1000',
        extra: [
          { path: 'etc/os-release', content: 'ID=alpine\nVERSION_ID=3.20.3\n' },
          { path: 'lib', type: 'directory' },
          { path: 'lib/apk', type: 'directory' },
          { path: 'lib/apk/db', type: 'directory' },
          { path: 'lib/apk/db/installed', content: 'P:musl\nV:1.2.5-r0\nA:x86_64\no:musl\n\n' },
        ],
      },
      'data/debian': {
        user: '1000',
        extra: [
          { path: 'etc/os-release', content: 'ID=debian\nVERSION_ID="12"\n' },
          { path: 'var', type: 'directory' },
          { path: 'var/lib', type: 'directory' },
          { path: 'var/lib/dpkg', type: 'directory' },
          { path: 'var/lib/dpkg/status', content: 'Package: base-files\nStatus: install ok installed\nArchitecture: amd64\nVersion: 12.4+deb12u5\n' },
        ],
      },
      'data/npm': {
        user: '1000',
        extra: [
          { path: 'app', type: 'directory' },
          {
            path: 'app/package-lock.json',
            content: JSON.stringify({ lockfileVersion: 3, packages: { '': { name: 'x' }, 'node_modules/left-pad': { version: '1.3.0' } } }),
          },
        ],
      },
    };
    const outcome: Record<string, Awaited<ReturnType<typeof runChain>>> = {};
    for (const [repository, spec] of Object.entries(images)) {
      const layout = join(services.dataDir, repository.replace('/', '-'));
      const desc = await writeOciImage(layout, busyboxSpec(spec), 'v1');
      await pushImage(layout, 'v1', `${services.source.host}/${repository}:v1`);
      outcome[repository] = await runChain(chain, config, repository, desc.digest);
    }
    const alpine = outcome['data/alpine']!.failure!;
    assert.equal(alpine.type, 'PolicyDenied');
    assert.match(alpine.message, /vulnerability data: no vulnerability data for Alpine \(no OSV records loaded for it\): 1 package not checked/);
    const debian = outcome['data/debian']!.failure!;
    assert.match(debian.message, /vulnerability data: vulnerability data for Debian is 30d old \(updated [^)]+\), older than the maximum 6h/);
    const evidence = (debian.details as Array<{ rule: string; evidence: { ecosystem: string; ageSeconds: number } }>).find(
      (v) => v.rule === 'vulnerabilities.data',
    )!.evidence;
    assert.equal(evidence.ecosystem, 'Debian');
    assert.ok(evidence.ageSeconds >= 30 * 86_400 - 60);
    assert.equal(outcome['data/npm']!.status?.stage, 'done', 'fresh npm data: the npm image goes through');
    await chain.stop();

    // `dchain scan` says the same and exits non-zero.
    const configFile = join(services.dataDir, 'aged.json');
    writeFileSync(configFile, JSON.stringify(config));
    const scan = spawnSync(
      process.execPath,
      ['--import', 'tsx', join(ROOT, 'cli', 'dchain.ts'), '--config', configFile, 'scan', '--format', 'json', `${services.source.host}/data/alpine:v1`],
      { cwd: ROOT, encoding: 'utf8', timeout: 120_000 },
    );
    assert.equal(scan.status, 4, scan.stderr);
    assert.match(scan.stderr, /no vulnerability data for Alpine/);
  });

  it("on embedded defaults (OSV downloaded from the export server), blocks the demo's vulnerable image with readable reasons and distributes the clean one", async () => {
    const config = baseConfig(services, 'defaults', { scan: { osv: { download: { enabled: true, baseUrl: osvBaseUrl } } } });
    const chain = await useChainWorker(config);
    const configFile = join(services.dataDir, 'defaults.json');
    writeFileSync(configFile, JSON.stringify(config));
    const push = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'cli', 'dchain.ts'), '--config', configFile, 'demo', 'push', '--json'], {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 120_000,
    });
    assert.equal(push.status, 0, push.stderr);
    const pushed = (JSON.parse(push.stdout) as { images: Array<{ repository: string; digest: string; expect: string }> }).images;
    assert.deepEqual(
      pushed.map((p) => [p.repository, p.expect]),
      [
        ['demo/clean', 'allowed'],
        ['demo/vulnerable', 'blocked'],
      ],
    );

    const clean = await runChain(chain, config, 'demo/clean', pushed[0]!.digest);
    assert.equal(clean.status?.stage, 'done', clean.failure?.message);
    const mirror = new RegistryClient({ url: services.mirror.url });
    assert.equal((await mirror.headManifest('demo/clean', pushed[0]!.digest))?.digest, pushed[0]!.digest, 'the clean image is distributed');

    const vulnerable = await runChain(chain, config, 'demo/vulnerable', pushed[1]!.digest);
    const failure = vulnerable.failure!;
    assert.equal(failure.type, 'PolicyDenied');
    assert.match(failure.message, /CRITICAL GHSA-jf85-cpcp-j695 in lodash 4\.17\.11 \(fixed in 4\.17\.12\) is above the fixable ceiling MEDIUM/);
    assert.ok(!/vulnerability data/.test(failure.message), `the downloaded data covers Debian and npm: ${failure.message}`);
    assert.equal(await mirror.headManifest('demo/vulnerable', pushed[1]!.digest), undefined, 'nothing of the blocked image is distributed');
    // The built-in policy warns about hygiene without blocking for it: the setuid busybox and root USER are in the decision.
    const redis = new Redis(services.redis.url);
    try {
      const decision = (await new DecisionStore(redis).latest(pushed[1]!.digest))!.decision;
      const warned = decision.violations.filter((v) => !v.enforced).map((v) => v.rule);
      assert.ok(warned.includes('hygiene.setuid') && warned.includes('hygiene.nonRootUser'), warned.join(', '));
      assert.equal(decision.mode, 'enforce');
    } finally {
      redis.disconnect();
    }
    assert.ok(requests.includes('/Debian/all.zip') && requests.includes('/npm/all.zip'), 'the exports were downloaded');
  });
});
