import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { onCleanup } from './services';
import { freeStackConfig } from './stack-config';

const ROOT = resolve(__dirname, '..', '..');

export async function until<T>(what: string, timeoutMs: number, probe: () => T | undefined | Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await delay(250);
  }
}

export const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

export interface StackFile {
  pid: number;
  urls: Record<string, string>;
  processes: Record<string, number | undefined>;
  supervised: Record<string, { pid?: number; state: string; restarts: number }>;
}

export interface NpmStart {
  npm: ChildProcess;
  configFile: string;
  dataDir: string;
  ports: Awaited<ReturnType<typeof freeStackConfig>>['ports'];
  output(): string;
  exited: Promise<number | null>;
  stackFile(): StackFile;
  /** Every pid the stack has run so far (restarts included), with the supervisor's and npm's. */
  pids: Set<number>;
  remember(): void;
}

/**
 * `npm start -- --config <file>` as a user runs it, in its own process group (like a terminal's
 * foreground job, so a test can send the group a Ctrl-C), on free ports. Stopped at cleanup.
 */
export async function npmStart(dir: string): Promise<NpmStart> {
  const dataDir = join(dir, 'data');
  const { config, ports } = await freeStackConfig(dataDir);
  // Offline: OSV records from a directory (one fixture, so the data exists and is fresh) instead of the download.
  const osvDir = join(dir, 'osv');
  mkdirSync(osvDir, { recursive: true });
  copyFileSync(join(ROOT, 'test', 'fixtures', 'osv', 'npm', 'GHSA-jf85-cpcp-j695.json'), join(osvDir, 'GHSA-jf85-cpcp-j695.json'));
  config.scan = { osv: { directory: osvDir } };
  const configFile = join(dir, 'config.json');
  writeFileSync(configFile, JSON.stringify(config));
  const npm = spawn('npm', ['start', '--', '--config', configFile], {
    cwd: ROOT,
    env: { ...process.env, LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let output = '';
  npm.stdout?.on('data', (c: Buffer) => (output += c.toString()));
  npm.stderr?.on('data', (c: Buffer) => (output += c.toString()));
  const exited = new Promise<number | null>((done) => npm.once('exit', (code) => done(code)));
  const stackFile = () => JSON.parse(readFileSync(join(dataDir, 'stack.json'), 'utf8')) as StackFile;
  const pids = new Set<number>();
  const remember = () => {
    if (!existsSync(join(dataDir, 'stack.json'))) return;
    const status = stackFile();
    pids.add(status.pid);
    for (const pid of Object.values(status.processes)) if (pid) pids.add(pid);
  };
  onCleanup(async () => {
    // A failed assertion: stop the stack the way an operator would, then make sure.
    if (npm.exitCode === null && npm.pid) {
      try {
        process.kill(-npm.pid, 'SIGTERM');
      } catch {
        // already gone
      }
      await Promise.race([exited, delay(20_000)]);
    }
    for (const pid of pids) if (alive(pid)) process.kill(pid, 'SIGKILL');
  });
  await until('the stack to come up', 240_000, () => {
    if (npm.exitCode !== null) throw new Error(`npm start exited early:\n${output}`);
    return output.includes('delivery-chain is running') ? true : undefined;
  });
  if (npm.pid) pids.add(npm.pid);
  remember();
  return { npm, configFile, dataDir, ports, output: () => output, exited, stackFile, pids, remember };
}

/** `dchain <args>` through bin/dchain.js, as `npx dchain` runs it. */
export function dchain(args: string[], configFile: string): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [join(ROOT, 'bin', 'dchain.js'), '--config', configFile, ...args], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

export async function health(
  apiUrl: string,
): Promise<{ code: number; body: { status: string; components: Record<string, { status: string; detail?: string }> } } | undefined> {
  try {
    const res = await fetch(`${apiUrl}/healthz`, { signal: AbortSignal.timeout(10_000) });
    return { code: res.status, body: (await res.json()) as { status: string; components: Record<string, { status: string; detail?: string }> } };
  } catch {
    return undefined; // the API itself is down
  }
}

/** Parses Prometheus text exposition with the reference client's parser (python3-prometheus-client). */
export function parsePrometheus(text: string): Array<{ name: string; type: string; samples: number }> {
  const script = [
    'import json, sys',
    'from prometheus_client.parser import text_string_to_metric_families',
    'print(json.dumps([{"name": f.name, "type": f.type, "samples": len(f.samples)} for f in text_string_to_metric_families(sys.stdin.read())]))',
  ].join('\n');
  // Debian's interpreter: python3-prometheus-client is installed for it, whatever python3 PATH finds first.
  const python = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
  const r = spawnSync(python, ['-c', script], { input: text, encoding: 'utf8', timeout: 30_000 });
  if (r.status !== 0) throw new Error(`not valid Prometheus text: ${r.stderr}`);
  return JSON.parse(r.stdout) as Array<{ name: string; type: string; samples: number }>;
}
