import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { describe, it } from 'node:test';
import { busyboxSpec, pushImage, writeOciImage } from '../support/images';
import { onCleanup, testDataDir } from '../support/services';
import { freeStackConfig } from '../support/stack-config';

const ROOT = resolve(__dirname, '..', '..');

async function until<T>(what: string, timeoutMs: number, probe: () => T | undefined | Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await delay(250);
  }
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('npm start: the whole stack', () => {
  it('starts every service, turns a skopeo push into an authenticated, logged notification, and leaves nothing behind on Ctrl-C', async () => {
    const dataDir = testDataDir();
    const { config, ports } = await freeStackConfig(join(dataDir, 'data'));
    const { ui, source, api } = ports;
    const configFile = join(dataDir, 'config.json');
    writeFileSync(configFile, JSON.stringify(config));
    const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'workers', 'stack.ts'), '--config', configFile], {
      cwd: ROOT,
      env: { ...process.env, LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
    // On a failed assertion, stop the stack the way an operator would, so it stops its services too.
    onCleanup(async () => {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      await exited;
      clearTimeout(timer);
    });

    await until('the stack to come up', 150_000, () => {
      if (child.exitCode !== null) throw new Error(`npm start exited early:\n${output}`);
      return output.includes('delivery-chain is running') ? true : undefined;
    });
    const status = JSON.parse(readFileSync(join(dataDir, 'data', 'stack.json'), 'utf8')) as { urls: Record<string, string>; processes: Record<string, number> };
    assert.equal(status.urls['temporal-ui'], `http://127.0.0.1:${ui}`);
    assert.equal(status.urls.api, `http://127.0.0.1:${api}`);
    assert.deepEqual(Object.keys(status.processes).sort(), ['api', 'ingest-worker', 'redis', 'registry mirror', 'registry source', 'temporal', 'temporal-worker'].sort());
    const cli = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'cli', 'dchain.ts'), '--config', configFile, 'status', '--json'], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
    assert.equal(cli.status, 0, cli.stderr);
    const reported = JSON.parse(cli.stdout) as { running: boolean; urls: Record<string, string> };
    assert.equal(reported.running, true);
    assert.deepEqual(reported.urls, status.urls, '`dchain status --json` reports the same URLs');
    const ui200 = await fetch(status.urls['temporal-ui'] as string);
    assert.equal(ui200.status, 200, 'the Temporal Web UI answers');

    const layout = join(dataDir, 'image');
    const desc = await writeOciImage(layout, busyboxSpec({ user: '1000' }), 'v1');
    await pushImage(layout, 'v1', `127.0.0.1:${source}/demo/app:v1`);

    // The registry's notification reaches the API, is authenticated and logged with repository and digest.
    const apiLog = join(dataDir, 'data', 'logs', 'api.log');
    const line = await until('the API to log the push', 30_000, () => {
      if (!existsSync(apiLog)) return undefined;
      return readFileSync(apiLog, 'utf8')
        .split('\n')
        .find((l) => l.includes(desc.digest) && l.includes('demo/app'));
    });
    assert.ok(JSON.parse(line), 'pino JSON');
    const deliveries = (await (await fetch(`${status.urls.api}/webhooks/deliveries`)).json()) as { deliveries: Array<{ status: number; outcome: string }> };
    assert.ok(deliveries.deliveries.some((d) => d.status === 202 && d.outcome === 'accepted'), JSON.stringify(deliveries));

    child.kill('SIGINT');
    assert.equal(await exited, 0, output);
    for (const [name, pid] of Object.entries(status.processes)) assert.equal(alive(pid), false, `${name} (pid ${pid}) was stopped`);
    assert.equal(existsSync(join(dataDir, 'data', 'stack.json')), false);
  });
});
