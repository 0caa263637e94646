/**
 * Every connection to Temporal, in one place: the client of the CLI, the API and the queue worker,
 * the native connection of the workers, and the options they share (address, timeouts), so a
 * setting such as TLS is added once.
 */
import { Client, Connection, type ConnectionOptions } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { type Config } from '../../src/config';
import { ChainError } from '../../src/errors';
import { type Logger } from '../../src/log';
import { temporalTls, withDataConverter } from './security';

export interface TemporalSession {
  client: Client;
  close(): Promise<void>;
}

/** The configured frontend, or the local dev server `npm start` runs. */
export function temporalAddress(config: Config): string {
  return config.temporal.address ?? `127.0.0.1:${config.temporal.devServer.port}`;
}

/** What every connection to the configured frontend is made with: address, timeout and TLS (`temporal.tls`). */
export function connectionOptions(config: Config, overrides: Partial<ConnectionOptions> = {}): ConnectionOptions {
  const tls = temporalTls(config);
  return { address: temporalAddress(config), connectTimeout: config.temporal.connectTimeoutMs, ...(tls ? { tls } : {}), ...overrides };
}

function unreachable(config: Config, cause: unknown): ChainError {
  return new ChainError('SERVICE_UNREACHABLE', `cannot reach Temporal at ${temporalAddress(config)}: ${(cause as Error).message}`, { cause });
}

/** A Temporal client for the configured frontend (one attempt; SERVICE_UNREACHABLE when it does not answer). */
export async function connectTemporal(config: Config): Promise<TemporalSession> {
  try {
    const connection = await Connection.connect(connectionOptions(config));
    // The payload codec (temporal.codec) on every client, like on the workers.
    return { client: new Client({ connection, namespace: config.temporal.namespace, ...withDataConverter(config) }), close: () => connection.close() };
  } catch (cause) {
    throw unreachable(config, cause);
  }
}

/** The same session in the shape the Git webhook plugin and `dchain build` start chains with. */
export async function connectWorkflowStarter(config: Config): Promise<{ starter: Client; close(): Promise<void> }> {
  const { client, close } = await connectTemporal(config);
  return { starter: client, close };
}

/** A client, retrying until Temporal answers: a process may start before the server. */
export async function connectTemporalRetrying(config: Config, logger: Logger): Promise<TemporalSession> {
  if (!config.temporal.address) throw new ChainError('CONFIG_INVALID', 'temporal.address is not set (npm start sets it for the local dev server)');
  for (let attempt = 1; ; attempt++) {
    try {
      return await connectTemporal(config);
    } catch (err) {
      logger.warn({ address: config.temporal.address, attempt, err: (err as Error).message }, 'Temporal not reachable yet');
      await new Promise((r) => setTimeout(r, Math.min(1000 * attempt, 10_000)));
    }
  }
}

/** The workers' native connection (within `temporal.connectTimeoutMs`, which the native connect lacks). */
export async function connectWorker(config: Config): Promise<NativeConnection> {
  if (!config.temporal.address) throw new ChainError('CONFIG_INVALID', 'temporal.address is not set (npm start sets it for the local dev server)');
  const { address, tls } = connectionOptions(config);
  try {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${config.temporal.connectTimeoutMs} ms`)), config.temporal.connectTimeoutMs);
    });
    try {
      return await Promise.race([NativeConnection.connect({ address, ...(tls ? { tls } : {}) }), timeout]);
    } finally {
      clearTimeout(timer);
    }
  } catch (cause) {
    throw unreachable(config, cause);
  }
}
