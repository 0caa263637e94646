import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { describe, it } from 'node:test';
import { busyboxSpec, pushImage, writeOciImage } from '../support/images';
import { alive, dchain, health, npmStart, type NpmStart, parsePrometheus, until } from '../support/npm-start';
import { testDataDir } from '../support/services';

const ROOT = resolve(__dirname, '..', '..');

/** The image is distributed: the mirror holds it by digest (sync) — the chain ran to its end. */
async function inMirror(mirrorUrl: string, digest: string): Promise<true | undefined> {
  const res = await fetch(`${mirrorUrl}/v2/demo/app/manifests/${digest}`, {
    method: 'HEAD',
    headers: {
      accept: 'application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.v2+json',
    },
  }).catch(() => undefined);
  return res?.status === 200 ? true : undefined;
}

async function push(dir: string, tag: string, source: number): Promise<string> {
  const layout = join(dir, `image-${tag}`);
  const desc = await writeOciImage(layout, busyboxSpec({ user: '1000', extra: [{ path: 'etc/release', content: `${tag}\n` }] }), tag);
  await pushImage(layout, tag, `127.0.0.1:${source}/demo/app:${tag}`);
  return desc.digest;
}

/** Every pid the stack ran is gone within `ms` of the signal. */
async function allGone(stack: NpmStart, ms: number): Promise<void> {
  const since = Date.now();
  await until(`every pid of the stack to exit (${[...stack.pids].join(', ')})`, ms, () => ([...stack.pids].some(alive) ? undefined : true));
  process.stdout.write(`# stack stopped ${Date.now() - since} ms after the signal\n`);
}

function assertStoppedClean(stack: NpmStart): void {
  assert.equal(existsSync(join(stack.dataDir, 'stack.json')), false, 'stack.json removed');
  const run = join(stack.dataDir, 'run');
  assert.deepEqual(
    readdirSync(run).filter((f) => f.endsWith('.ready') || f === 'stack.lock'),
    [],
    'ready files and the lock removed',
  );
  const workerLog = readFileSync(join(stack.dataDir, 'logs', 'temporal-worker.log'), 'utf8');
  assert.doesNotMatch(workerLog, /IllegalStateError/, 'the Temporal worker shuts down once');
  for (const name of ['stack', 'api', 'temporal-worker', 'ingest-worker', 'temporal', 'redis', 'registry-source', 'registry-mirror']) {
    assert.ok(existsSync(join(stack.dataDir, 'logs', `${name}.log`)), `${name} logs under logs/`);
  }
}

describe('npm start: the supervised stack', () => {
  it('refuses a second start, reports health and metrics, restarts every crashed child, completes a chain pushed during an outage, and stops everything on SIGTERM to npm', async () => {
    const dir = testDataDir();
    const stack = await npmStart(dir);
    const status = stack.stackFile();
    const { source, mirror } = stack.ports;
    assert.deepEqual(
      Object.keys(status.processes).sort(),
      ['api', 'ingest-worker', 'redis', 'registry mirror', 'registry source', 'temporal', 'temporal-worker'].sort(),
    );

    // A second start on the same data directory is refused and leaves the first one's stack.json alone.
    const before = readFileSync(join(stack.dataDir, 'stack.json'), 'utf8');
    const second = spawnSync('npm', ['start', '--', '--config', stack.configFile], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
    assert.notEqual(second.status, 0);
    assert.match(second.stdout + second.stderr, /a stack already runs on this data directory \(pid \d+/);
    assert.equal(readFileSync(join(stack.dataDir, 'stack.json'), 'utf8'), before, 'stack.json intact');

    // Health: every component up once the workers poll.
    const api = status.urls.api as string;
    const healthy = await until('/healthz to answer 200', 180_000, async () => ((await health(api))?.code === 200 ? true : undefined));
    assert.ok(healthy);
    const report = await health(api);
    for (const c of [
      'temporal',
      'redis',
      'registry:source',
      'registry:mirror',
      'pollers:delivery-chain:workflow',
      'pollers:delivery-chain:activity',
      'pollers:delivery-chain-scan:activity',
      'osv',
      'process:temporal-worker',
    ]) {
      assert.ok(report?.body.components[c], `/healthz reports ${c}: ${JSON.stringify(report?.body)}`);
    }
    const cli = dchain(['status', '--json'], stack.configFile);
    assert.equal(cli.status, 0, cli.stderr);
    const reported = JSON.parse(cli.stdout) as { running: boolean; health: { status: string; components: Record<string, unknown> } };
    assert.equal(reported.running, true);
    assert.equal(reported.health.status, 'ok');

    // The bootstrap admin token: printed once, kept 0600 in the data directory; the CLI goes through /v1 with it by default.
    const tokenFile = join(stack.dataDir, 'admin-token');
    assert.equal(statSync(tokenFile).mode & 0o777, 0o600);
    const adminToken = readFileSync(tokenFile, 'utf8').trim();
    assert.equal(stack.output().split(adminToken).length - 1, 1, 'the token is printed once');
    const runs = dchain(['runs', 'list', '--json'], stack.configFile);
    assert.equal(runs.status, 0, runs.stderr);
    assert.ok(Array.isArray((JSON.parse(runs.stdout) as { chains: unknown[] }).chains), runs.stdout);

    // A chain end to end, then metrics of every long-running process parse as Prometheus text.
    const first = await push(dir, 'v1', source);
    await until('the first chain to distribute', 240_000, () => inMirror(`http://127.0.0.1:${mirror}`, first));
    const scrape = async (url: string) => parsePrometheus(await (await fetch(url)).text());
    const apiMetrics = await scrape(status.urls.metrics as string);
    assert.ok(
      apiMetrics.some((m) => m.name === 'dchain_webhook_deliveries' || m.name === 'dchain_webhook_deliveries_total'),
      JSON.stringify(apiMetrics.map((m) => m.name)),
    );
    assert.ok(apiMetrics.some((m) => m.name === 'dchain_ingest_queue_depth'));
    const workerMetrics = await scrape(status.urls['metrics-temporal-worker'] as string);
    const stages = workerMetrics.find((m) => m.name === 'dchain_chain_stage_duration_seconds');
    assert.ok(stages && stages.samples > 0, 'stage durations recorded');
    assert.ok(workerMetrics.some((m) => m.name === 'dchain_gate_verdicts' || m.name === 'dchain_gate_verdicts_total'));
    const ingestMetrics = await scrape(status.urls['metrics-ingest-worker'] as string);
    assert.ok(ingestMetrics.some((m) => m.name === 'dchain_ingest_queue_oldest_age_seconds'));

    // SIGKILL each long-running child: the supervisor restarts it; /healthz reports the outage, then recovery.
    let pushedDuringOutage: string | undefined;
    for (const name of ['temporal-worker', 'ingest-worker', 'api', 'redis', 'temporal', 'registry mirror']) {
      const pid = stack.stackFile().processes[name] as number;
      process.kill(pid, 'SIGKILL');
      await until(`/healthz to report ${name} down`, 30_000, async () => {
        const h = await health(api);
        return h === undefined || h.code === 503 ? true : undefined;
      });
      if (name === 'temporal-worker') pushedDuringOutage = await push(dir, 'v2', source);
      await until(`${name} to be restarted`, 180_000, () => {
        const s = stack.stackFile().supervised[name];
        return s && s.state === 'running' && s.pid !== pid && s.restarts >= 1 ? true : undefined;
      });
      stack.remember();
      await until(`/healthz to recover after ${name}`, 240_000, async () => ((await health(api))?.code === 200 ? true : undefined));
    }
    assert.ok(pushedDuringOutage);
    await until('the chain pushed during the outage to distribute', 240_000, () => inMirror(`http://127.0.0.1:${mirror}`, pushedDuringOutage as string));
    const stackLog = readFileSync(join(stack.dataDir, 'logs', 'stack.log'), 'utf8');
    assert.match(stackLog, /process exited unexpectedly; restarting it/);
    assert.match(stackLog, /process restarted/);
    for (const log of ['api', 'ingest-worker', 'temporal-worker']) {
      assert.doesNotMatch(readFileSync(join(stack.dataDir, 'logs', `${log}.log`), 'utf8'), /Unhandled error event/, `${log}: Redis errors are handled`);
    }

    // SIGTERM to npm's own pid (what a process manager sends) stops everything.
    stack.remember();
    process.kill(stack.npm.pid as number, 'SIGTERM');
    await allGone(stack, 15_000);
    await stack.exited;
    assertStoppedClean(stack);
  });

  it('stops everything on Ctrl-C (SIGINT to the foreground process group)', async () => {
    const stack = await npmStart(testDataDir());
    await delay(1000);
    stack.remember();
    process.kill(-(stack.npm.pid as number), 'SIGINT');
    await allGone(stack, 15_000);
    await stack.exited;
    assertStoppedClean(stack);
  });
});
