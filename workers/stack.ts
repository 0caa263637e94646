/**
 * `npm start`: the whole stack on this machine, supervised. Starts what the configuration does not
 * point at (Temporal dev server, Redis with AOF, the managed registries with notifications to the
 * webhook API), then the project's own processes (webhook API, Temporal worker, queue worker).
 * Prints every URL, writes them to <dataDir>/stack.json (`dchain status --json`) while it holds the
 * stack lock, restarts a child that crashes, and on SIGINT / SIGTERM / SIGHUP (or when npm, its
 * parent, goes away) stops exactly what it started, dependents first, within one deadline.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { type Config, loadConfig } from '../src/config';
import { ChainError } from '../src/errors';
import { createLogger, type Logger } from '../src/log';
import { ENV_KEY_FILE, ENV_KEY_PEM, generateKeyPair } from '../src/signing';
import { ManagedProcess, portOpen } from './local/managed-process';
import { startRedis } from './local/redis-server';
import { ensureBootstrapToken } from './process/bootstrap-token';
import { startRegistry } from './local/registry-server';
import { StackLock } from './local/stack-lock';
import { Supervisor } from './local/supervisor';
import { runEntryPoint } from './process/entry-point';
import { osvDownloadBanner } from '../src/scan';
import { startTemporalDevServer } from './local/temporal-dev-server';
import { STACK_FILE } from './process/stack-file';
import { TEMPORAL_WORKER_NODE_FLAGS } from './temporal/node-flags';

/** Written while the stack runs: every URL and pid (`dchain status`). */
export { STACK_FILE } from './process/stack-file';
export const RUNTIME_CONFIG_FILE = 'runtime-config.json';
/** Held by the running stack (its pid); a second `npm start` on the same data directory is refused. */
export const STACK_LOCK_FILE = join('run', 'stack.lock');
/** Tells the project's processes where the supervisor publishes the children's states (/healthz reads it). */
export const ENV_STACK_FILE = 'DCHAIN_STACK_FILE';
/** The supervisor's pid: its processes stop themselves if it vanishes without stopping them. */
export const ENV_SUPERVISOR_PID = 'DCHAIN_SUPERVISOR_PID';

export interface Stack {
  urls: Record<string, string>;
  config: Config;
  /** Stops every child, dependents first; the same promise on every call. */
  stop(): Promise<void>;
  /** The admin API token: `token` only when this start created it (printed once). */
  bootstrap?: { token?: string; file: string };
}

async function ensurePortFree(port: number, what: string, setting: string): Promise<void> {
  if (await portOpen(port)) {
    throw new ChainError('SERVICE_START_FAILED', `port ${port} for ${what} is already in use; stop what uses it or set ${setting}`);
  }
}

/** The entry of one of the project's processes: compiled JavaScript beside this file, or TypeScript through tsx. */
function ownProcessArgs(name: string): string[] {
  const flags = name === 'temporal-worker' ? TEMPORAL_WORKER_NODE_FLAGS : [];
  return __filename.endsWith('.js') ? [...flags, join(__dirname, `${name}.js`)] : [...flags, '--import', 'tsx', join(__dirname, `${name}.ts`)];
}

/**
 * Starts the stack described by `config`; `stop()` undoes exactly what was started. An abort
 * during the start (a signal before the stack is up) stops what already runs and rejects.
 */
export async function startStack(config: Config, logger: Logger, options: { signal?: AbortSignal } = {}): Promise<Stack> {
  const dataDir = resolve(config.dataDir);
  const runDir = join(dataDir, 'run');
  const logDir = join(dataDir, 'logs');
  mkdirSync(runDir, { recursive: true });
  // Refused before anything is touched: the running stack's stack.json, ready files and ports stay its own.
  const lock = StackLock.acquire(join(dataDir, STACK_LOCK_FILE));
  const stackFile = join(dataDir, STACK_FILE);
  const urls: Record<string, string> = {};
  let bootstrap: { token?: string; file: string } | undefined;
  const startedAt = new Date().toISOString();
  let published = false;
  const publish = () => {
    if (!published) return;
    const statuses = supervisor.statuses();
    const processes = Object.fromEntries(Object.entries(statuses).map(([name, s]) => [name, s.pid]));
    // Atomic: `dchain status` and /healthz never read half a file.
    // `config`: the resolved configuration, the CLI's default while this stack runs.
    const content = { pid: process.pid, startedAt, config: join(dataDir, RUNTIME_CONFIG_FILE), urls, processes, supervised: statuses };
    writeFileSync(`${stackFile}.tmp`, JSON.stringify(content, null, 2));
    renameSync(`${stackFile}.tmp`, stackFile);
  };
  const supervisor = new Supervisor({ logger, onChange: publish });
  const runtime: Config = structuredClone(config);
  runtime.dataDir = dataDir;
  let stopped: Promise<void> | undefined;
  const stop = () =>
    (stopped ??= (async () => {
      published = false;
      await supervisor.stop();
      rmSync(stackFile, { force: true });
      for (const name of readdirSync(runDir)) if (name.endsWith('.ready')) rmSync(join(runDir, name), { force: true });
      lock.release();
    })());
  const started = (proc: Parameters<Supervisor['add']>[0]) => {
    supervisor.add(proc);
    options.signal?.throwIfAborted();
  };
  try {
    if (!config.temporal.address) {
      const { port, uiPort, httpPort, metricsPort } = config.temporal.devServer;
      await ensurePortFree(port, 'the Temporal dev server', 'temporal.devServer.port');
      await ensurePortFree(uiPort, 'the Temporal Web UI', 'temporal.devServer.uiPort');
      await ensurePortFree(httpPort, 'the Temporal HTTP API', 'temporal.devServer.httpPort');
      await ensurePortFree(metricsPort, 'the Temporal metrics', 'temporal.devServer.metricsPort');
      const temporal = await startTemporalDevServer({
        dataDir: join(dataDir, 'temporal'),
        port,
        uiPort,
        httpPort,
        metricsPort,
        namespace: config.temporal.namespace,
        logFile: join(logDir, 'temporal.log'),
        detached: true,
      });
      started(temporal.process);
      runtime.temporal.address = temporal.address;
      urls['temporal-ui'] = temporal.uiUrl ?? '';
      urls['temporal-metrics'] = `http://127.0.0.1:${metricsPort}/metrics`;
      logger.info({ address: temporal.address }, 'Temporal dev server started');
    }
    urls.temporal = runtime.temporal.address ?? '';

    if (!config.redis.url) {
      await ensurePortFree(config.redis.localPort, 'Redis', 'redis.localPort or DCHAIN_REDIS_URL');
      const redis = await startRedis({ dataDir: join(dataDir, 'redis'), port: config.redis.localPort, logFile: join(logDir, 'redis.log'), detached: true });
      started(redis.process);
      runtime.redis.url = redis.url;
      logger.info({ url: redis.url }, 'Redis started');
    }
    urls.redis = runtime.redis.url ?? '';
    bootstrap = await ensureBootstrapToken(runtime, dataDir);

    const apiUrl = config.api.publicUrl ?? `${config.api.tls ? 'https' : 'http'}://${config.api.host}:${config.api.port}`;
    for (const registry of config.registries) {
      if (registry.managed) {
        const url = new URL(registry.url);
        const port = Number(url.port || 80);
        await ensurePortFree(port, `registry "${registry.name}"`, `registries[name=${registry.name}].url`);
        // A registry notifies the API endpoint of the webhook source that names it.
        const source = config.sources.find((s) => s.registry === registry.name);
        const local = await startRegistry({
          name: registry.name,
          dataDir: join(dataDir, 'registries'),
          port,
          logFile: join(logDir, `registry-${registry.name}.log`),
          detached: true,
          ...(source ? { notify: { url: `${apiUrl}/webhooks/${source.name}`, secret: source.secret } } : {}),
        });
        started(local.process);
        logger.info({ registry: registry.name, url: local.url, notifies: source?.name }, 'registry started');
      }
      urls[`registry-${registry.name}`] = registry.url;
      const runtimeRegistry = runtime.registries.find((r) => r.name === registry.name);
      if (runtimeRegistry) runtimeRegistry.managed = false;
    }

    const signingEnv = await ensureLocalSigningKey(runtime, dataDir, logger);
    urls['signing-public-key'] = runtime.signing.trustedKeys[0] ?? '';

    // Embedded defaults fetch the OSV exports: without data every scan would be denied (fail closed).
    if (!config.scan.osv.directory && !config.scan.osv.download.enabled) runtime.scan.osv.download.enabled = true;
    // The project's processes read the resolved configuration (addresses of what was just started).
    const runtimeConfig = join(dataDir, RUNTIME_CONFIG_FILE);
    writeFileSync(runtimeConfig, JSON.stringify(runtime, null, 2), { mode: 0o600 });
    if (config.api.host && (await portOpen(config.api.port, config.api.host))) {
      throw new ChainError('SERVICE_START_FAILED', `port ${config.api.port} for the webhook API is already in use; set api.port or DCHAIN_API_PORT`);
    }
    const metricsPorts = { 'temporal-worker': config.metrics.temporalWorkerPort, 'ingest-worker': config.metrics.ingestWorkerPort };
    for (const [name, port] of Object.entries(metricsPorts)) {
      if (port) await ensurePortFree(port, `the ${name} metrics`, `metrics.${name === 'temporal-worker' ? 'temporalWorkerPort' : 'ingestWorkerPort'}`);
    }
    for (const name of ['api', 'temporal-worker', 'ingest-worker']) {
      const readyFile = join(runDir, `${name}.ready`);
      rmSync(readyFile, { force: true });
      const managed = new ManagedProcess({
        name,
        command: process.execPath,
        args: ownProcessArgs(name),
        env: {
          ...process.env,
          ...signingEnv,
          DCHAIN_CONFIG: runtimeConfig,
          DCHAIN_READY_FILE: readyFile,
          [ENV_STACK_FILE]: stackFile,
          [ENV_SUPERVISOR_PID]: String(process.pid),
        },
        logFile: join(logDir, `${name}.log`),
        readyTimeoutMs: 120_000,
        // The process writes the file once it serves (the API: once it listens).
        ready: async () => existsSync(readyFile),
        detached: true,
      });
      // A restarted process writes the file again once it serves.
      const start = managed.start.bind(managed);
      managed.start = async () => {
        rmSync(readyFile, { force: true });
        await start();
      };
      await managed.start();
      started(managed);
      logger.info({ process: name, pid: managed.pid }, 'process started');
    }
    urls.api = apiUrl;
    urls.webhooks = config.sources.map((s) => `${apiUrl}/webhooks/${s.name}`).join(' ');
    urls.health = `${apiUrl}/healthz`;
    urls.metrics = `${apiUrl}/metrics`;
    for (const [name, port] of Object.entries(metricsPorts)) if (port) urls[`metrics-${name}`] = `http://${config.metrics.host}:${port}/metrics`;
    urls.logs = logDir;
    published = true;
    publish();
    return { urls, config: runtime, stop, ...(bootstrap ? { bootstrap } : {}) };
  } catch (err) {
    await stop();
    throw err;
  }
}

/**
 * With no signing key configured (neither in the file nor the environment), the local stack signs
 * with a development key of its own, kept in <dataDir>/keys (cosign's encrypted format, so
 * `cosign verify --key <dataDir>/keys/cosign.pub` works) and trusted by verification and admission.
 */
export async function ensureLocalSigningKey(runtime: Config, dataDir: string, logger: Logger): Promise<NodeJS.ProcessEnv> {
  if (runtime.signing.key || process.env[ENV_KEY_FILE] || process.env[ENV_KEY_PEM]) return {};
  const dir = join(dataDir, 'keys');
  const keyFile = join(dir, 'cosign.key');
  const pubFile = join(dir, 'cosign.pub');
  const passwordFile = join(dir, 'password');
  if (!existsSync(keyFile)) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const password = randomBytes(24).toString('base64url');
    const pair = await generateKeyPair(password);
    writeFileSync(passwordFile, password, { mode: 0o600 });
    writeFileSync(keyFile, pair.privateKeyPem, { mode: 0o600 });
    writeFileSync(pubFile, pair.publicKeyPem);
    logger.info({ publicKey: pubFile }, 'generated a local development signing key');
  }
  runtime.signing.key = { kind: 'file', path: keyFile, passwordEnv: 'DCHAIN_SIGNING_KEY_PASSWORD' };
  runtime.signing.trustedKeys = [pubFile, ...runtime.signing.trustedKeys];
  return { DCHAIN_SIGNING_KEY_PASSWORD: readFileSync(passwordFile, 'utf8') };
}

/**
 * Stops the stack once, whatever asks: SIGINT (Ctrl-C reaches npm and this process; the children
 * have their own process groups and wait for their turn), SIGTERM (npm forwards it: the start script
 * `exec`s this process), SIGHUP, or npm itself vanishing (SIGKILL): the stack is re-parented, and a
 * stack nobody can stop any more stops itself.
 */
function stopOnSignals(logger: Logger): { stack(stack: Stack): void; abort: AbortSignal } {
  const abort = new AbortController();
  let running: Stack | undefined;
  let stopping = false;
  const shutdown = (reason: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ reason }, 'stopping the stack');
    // Still starting: startStack sees the abort after the step under way, stops what runs and rejects.
    if (!running) return abort.abort();
    running
      .stop()
      .then(() => {
        logger.info('stack stopped');
        logger.flush();
        process.exit(0);
      })
      .catch((err: unknown) => {
        logger.error({ err }, 'stop failed');
        process.exit(1);
      });
  };
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => shutdown(signal));
  if (process.env.npm_lifecycle_event) {
    const parent = process.ppid;
    setInterval(() => {
      if (process.ppid !== parent) shutdown('parent process (npm) exited');
    }, 500).unref();
  }
  return { stack: (stack) => (running = stack), abort: abort.signal };
}

async function main(): Promise<void> {
  const configArg = process.argv.indexOf('--config');
  const config = loadConfig(configArg > 0 && process.argv[configArg + 1] ? { path: process.argv[configArg + 1] } : {});
  const logger = createLogger({ level: config.log.level, name: 'stack', file: join(resolve(config.dataDir), 'logs', 'stack.log') });
  // A terminal or npm that went away must not turn the stop path into an EPIPE crash.
  process.stdout.on('error', () => undefined);
  process.stderr.on('error', () => undefined);
  const signals = stopOnSignals(logger);
  let stack: Stack;
  try {
    stack = await startStack(config, logger, { signal: signals.abort });
  } catch (err) {
    if (!signals.abort.aborted) throw err;
    logger.info('stopped while starting');
    logger.flush();
    process.exit(0);
  }
  signals.stack(stack);
  const width = Math.max(...Object.keys(stack.urls).map((k) => k.length));
  process.stdout.write('\ndelivery-chain is running:\n');
  for (const [name, url] of Object.entries(stack.urls)) process.stdout.write(`  ${name.padEnd(width)}  ${url}\n`);
  process.stdout.write(`\n${await osvDownloadBanner(stack.config)}\n`);
  // Printed once, when created; afterwards it is in the file (0600) the CLI reads.
  if (stack.bootstrap?.token) process.stdout.write(`\nAdmin API token (shown once, also in ${stack.bootstrap.file}):\n  ${stack.bootstrap.token}\n`);
  process.stdout.write(
    `\nPush an image:  skopeo copy --dest-tls-verify=false <src> docker://${new URL(config.registries[0]?.url ?? 'http://127.0.0.1:5000').host}/demo/app:v1\nStatus:  npx dchain status    Stop with Ctrl-C.\n`,
  );
}

/** `npm start` (bin/stack.js): the supervisor, with a one-line error and exit 1 if the stack cannot start. */
export function run(): void {
  runEntryPoint('npm start', main);
}

if (require.main === module) run();
