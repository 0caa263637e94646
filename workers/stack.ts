/**
 * `npm start`: the whole stack on this machine. Starts what the configuration does not point at
 * (Temporal dev server, Redis with AOF, the managed registries with notifications to the webhook API),
 * then the project's own processes (webhook API, Temporal worker, queue worker). Prints every URL,
 * writes them to <dataDir>/stack.json (`dchain status --json`), and on Ctrl-C / SIGTERM stops exactly
 * what it started, in reverse order.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { loadConfig } from '../src/config/load';
import { type Config } from '../src/config/schema';
import { ChainError } from '../src/errors/chain-error';
import { createLogger, type Logger } from '../src/log/logger';
import { ENV_KEY_FILE, ENV_KEY_PEM, generateKeyPair } from '../src/signing';
import { ManagedProcess, portOpen, type ServiceProcess } from './local/managed-process';
import { startRedis } from './local/redis-server';
import { startRegistry } from './local/registry-server';
import { runEntryPoint } from './entry-point';
import { osvDownloadBanner } from '../src/scan/osv/status';
import { startTemporalDevServer } from './local/temporal-dev-server';

/** Written while the stack runs: every URL and pid (`dchain status`). */
export const STACK_FILE = 'stack.json';
export const RUNTIME_CONFIG_FILE = 'runtime-config.json';

export interface Stack {
  urls: Record<string, string>;
  config: Config;
  stop(): Promise<void>;
}

async function ensurePortFree(port: number, what: string, setting: string): Promise<void> {
  if (await portOpen(port)) {
    throw new ChainError('SERVICE_START_FAILED', `port ${port} for ${what} is already in use; stop what uses it or set ${setting}`);
  }
}

/** Starts the stack described by `config`; `stop()` undoes exactly what was started. */
export async function startStack(config: Config, logger: Logger): Promise<Stack> {
  const dataDir = resolve(config.dataDir);
  mkdirSync(join(dataDir, 'run'), { recursive: true });
  const started: ServiceProcess[] = [];
  const urls: Record<string, string> = {};
  const runtime: Config = structuredClone(config);
  runtime.dataDir = dataDir;
  const stop = async () => {
    for (const proc of started.reverse()) await proc.stop();
    rmSync(join(dataDir, STACK_FILE), { force: true });
  };
  try {
    if (!config.temporal.address) {
      const { port, uiPort } = config.temporal.devServer;
      await ensurePortFree(port, 'the Temporal dev server', 'temporal.devServer.port');
      await ensurePortFree(uiPort, 'the Temporal Web UI', 'temporal.devServer.uiPort');
      const temporal = await startTemporalDevServer({ dataDir: join(dataDir, 'temporal'), port, uiPort, namespace: config.temporal.namespace });
      started.push(temporal.process);
      runtime.temporal.address = temporal.address;
      urls['temporal-ui'] = temporal.uiUrl ?? '';
      logger.info({ address: temporal.address }, 'Temporal dev server started');
    }
    urls.temporal = runtime.temporal.address ?? '';

    if (!config.redis.url) {
      await ensurePortFree(config.redis.localPort, 'Redis', 'redis.localPort or DCHAIN_REDIS_URL');
      const redis = await startRedis({ dataDir: join(dataDir, 'redis'), port: config.redis.localPort });
      started.push(redis.process);
      runtime.redis.url = redis.url;
      logger.info({ url: redis.url }, 'Redis started');
    }
    urls.redis = runtime.redis.url ?? '';

    const apiUrl = config.api.publicUrl ?? `http://${config.api.host}:${config.api.port}`;
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
          ...(source ? { notify: { url: `${apiUrl}/webhooks/${source.name}`, secret: source.secret } } : {}),
        });
        started.push(local.process);
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
    const own: Array<{ name: string; entry: string; args?: string[]; ready?: () => Promise<boolean> }> = [
      {
        name: 'api',
        entry: 'api.ts',
        ready: async () => (await fetch(`http://${config.api.host}:${config.api.port}/healthz`, { signal: AbortSignal.timeout(1000) })).ok,
      },
      { name: 'temporal-worker', entry: 'temporal-worker.ts' },
      { name: 'ingest-worker', entry: 'ingest-worker.ts' },
    ];
    if (config.api.host && (await portOpen(config.api.port, config.api.host))) {
      throw new ChainError('SERVICE_START_FAILED', `port ${config.api.port} for the webhook API is already in use; set api.port or DCHAIN_API_PORT`);
    }
    for (const proc of own) {
      const readyFile = join(dataDir, 'run', `${proc.name}.ready`);
      rmSync(readyFile, { force: true });
      const managed = new ManagedProcess({
        name: proc.name,
        command: process.execPath,
        args: ['--import', 'tsx', join(__dirname, proc.entry), ...(proc.args ?? [])],
        env: { ...process.env, ...signingEnv, DCHAIN_CONFIG: runtimeConfig, DCHAIN_READY_FILE: readyFile },
        logFile: join(dataDir, 'logs', `${proc.name}.log`),
        readyTimeoutMs: 120_000,
        ready: proc.ready ?? (async () => existsSync(readyFile)),
      });
      await managed.start();
      started.push(managed);
      logger.info({ process: proc.name, pid: managed.pid }, 'process started');
    }
    urls.api = apiUrl;
    urls.webhooks = config.sources.map((s) => `${apiUrl}/webhooks/${s.name}`).join(' ');
    urls.metrics = `${apiUrl}/metrics`;
    urls.logs = join(dataDir, 'logs');
    const processes = Object.fromEntries(started.map((p) => [p.name, p.pid]));
    writeFileSync(join(dataDir, STACK_FILE), JSON.stringify({ pid: process.pid, startedAt: new Date().toISOString(), urls, processes }, null, 2));
    return { urls, config: runtime, stop };
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

async function main(): Promise<void> {
  const configArg = process.argv.indexOf('--config');
  const config = loadConfig(configArg > 0 && process.argv[configArg + 1] ? { path: process.argv[configArg + 1] } : {});
  const logger = createLogger({ level: config.log.level, name: 'stack' });
  const stack = await startStack(config, logger);
  const width = Math.max(...Object.keys(stack.urls).map((k) => k.length));
  process.stdout.write('\ndelivery-chain is running:\n');
  for (const [name, url] of Object.entries(stack.urls)) process.stdout.write(`  ${name.padEnd(width)}  ${url}\n`);
  process.stdout.write(`\n${await osvDownloadBanner(stack.config)}\n`);
  process.stdout.write(`\nPush an image:  skopeo copy --dest-tls-verify=false <src> docker://${new URL(config.registries[0]?.url ?? 'http://127.0.0.1:5000').host}/demo/app:v1\nStop with Ctrl-C.\n`);
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'stopping the stack');
    stack
      .stop()
      .then(() => process.exit(0))
      .catch((err: unknown) => {
        logger.error({ err }, 'stop failed');
        process.exit(1);
      });
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGHUP', () => shutdown('SIGHUP'));
}

if (require.main === module) runEntryPoint('npm start', main);
