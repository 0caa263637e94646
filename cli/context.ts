import { Client, Connection } from '@temporalio/client';
import { type Config } from '../src/config/schema';
import { loadConfig } from '../src/config/load';
import { ChainError } from '../src/errors/chain-error';

/** Loads the configuration named by the global --config option (or DCHAIN_CONFIG, or defaults). */
export function cliConfig(opts: { config?: string }): Config {
  return loadConfig(opts.config === undefined ? {} : { path: opts.config });
}

export interface TemporalSession {
  client: Client;
  close(): Promise<void>;
}

/** A Temporal client: the configured frontend, or the local dev server `npm start` runs. */
export async function connectTemporal(config: Config): Promise<TemporalSession> {
  const address = config.temporal.address ?? `127.0.0.1:${config.temporal.devServer.port}`;
  try {
    const connection = await Connection.connect({ address, connectTimeout: config.temporal.connectTimeoutMs });
    return { client: new Client({ connection, namespace: config.temporal.namespace }), close: () => connection.close() };
  } catch (cause) {
    throw new ChainError('SERVICE_UNREACHABLE', `cannot reach Temporal at ${address}: ${(cause as Error).message}`, { cause });
  }
}
