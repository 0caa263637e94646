/**
 * Prometheus metrics of the processes that have no HTTP server of their own (the Temporal worker,
 * the ingestion worker): a registry with the Node process metrics and a loopback listener that
 * answers GET /metrics. The API serves its registry on api.port, admission on its HTTPS port.
 */
import { createServer, type Server } from 'node:http';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { ChainError } from '../../src/errors';

/** A registry with the process's default metrics (CPU, memory, event-loop lag, handles). */
export function processRegistry(): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return registry;
}

export interface MetricsListener {
  url: string | undefined;
  close(): Promise<void>;
}

/** Serves `registry` at http://host:port/metrics; port 0 in the configuration turns it off. */
export async function serveMetrics(registry: Registry, host: string, port: number): Promise<MetricsListener> {
  if (port === 0) return { url: undefined, close: async () => undefined };
  const server: Server = createServer((req, res) => {
    if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('only GET /metrics here\n');
      return;
    }
    registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
      (err: unknown) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`${(err as Error).message}\n`),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(
        new ChainError(
          'SERVICE_START_FAILED',
          `cannot serve metrics on ${host}:${port}: ${err.code ?? err.message}; set the metrics ports in the configuration`,
          { cause: err },
        ),
      ),
    );
    server.listen(port, host, resolve);
  });
  return {
    url: `http://${host}:${port}/metrics`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
