import { Client, Connection } from '@temporalio/client';
import { type Config } from '../src/config/schema';
import { ChainError } from '../src/errors/chain-error';

export interface TemporalSession {
  client: Client;
  close(): Promise<void>;
}

/** A Temporal client for the configured frontend, or the local dev server `npm start` runs. */
export async function connectTemporal(config: Config): Promise<TemporalSession> {
  const address = config.temporal.address ?? `127.0.0.1:${config.temporal.devServer.port}`;
  try {
    const connection = await Connection.connect({ address, connectTimeout: config.temporal.connectTimeoutMs });
    return { client: new Client({ connection, namespace: config.temporal.namespace }), close: () => connection.close() };
  } catch (cause) {
    throw new ChainError('SERVICE_UNREACHABLE', `cannot reach Temporal at ${address}: ${(cause as Error).message}`, { cause });
  }
}

/** The same session in the shape the Git webhook plugin and `dchain build` start chains with. */
export async function connectWorkflowStarter(config: Config): Promise<{ starter: Client; close(): Promise<void> }> {
  const { client, close } = await connectTemporal(config);
  return { starter: client, close };
}
