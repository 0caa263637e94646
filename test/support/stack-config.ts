import { freePort } from '../../workers/local/managed-process';

/**
 * A configuration for the whole local stack (`npm start`) on free loopback ports, so a test or
 * benchmark never meets a stack someone else runs on the default ones.
 */
export async function freeStackConfig(dataDir: string): Promise<{
  config: Record<string, unknown>;
  ports: Record<'temporal' | 'ui' | 'temporalHttp' | 'temporalMetrics' | 'redis' | 'source' | 'mirror' | 'api' | 'workerMetrics' | 'ingestMetrics', number>;
}> {
  const [temporal, ui, temporalHttp, temporalMetrics, redis, source, mirror, api, workerMetrics, ingestMetrics] = (await Promise.all(
    Array.from({ length: 10 }, () => freePort()),
  )) as [number, number, number, number, number, number, number, number, number, number];
  return {
    ports: { temporal, ui, temporalHttp, temporalMetrics, redis, source, mirror, api, workerMetrics, ingestMetrics },
    config: {
      dataDir,
      temporal: { devServer: { port: temporal, uiPort: ui, httpPort: temporalHttp, metricsPort: temporalMetrics } },
      redis: { localPort: redis },
      api: { port: api },
      metrics: { temporalWorkerPort: workerMetrics, ingestWorkerPort: ingestMetrics },
      registries: [
        { name: 'source', url: `http://127.0.0.1:${source}`, managed: true },
        { name: 'mirror', url: `http://127.0.0.1:${mirror}`, managed: true },
      ],
    },
  };
}
