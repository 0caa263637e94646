/**
 * The failover suite's fixture: the cluster topology on free loopback ports in a temp directory.
 */
import { chmodSync } from 'node:fs';
import { Client, Connection } from '@temporalio/client';
import { parseConfig } from '../../src/config/load';
import { createLogger } from '../../src/log/logger';
import { type Cluster, type ClusterOptions, startCluster } from '../../workers/cluster';
import { freePort } from '../../workers/local/managed-process';
import { type LoadTarget } from '../support/cluster-load';
import { onCleanup, testDataDir } from '../support/services';

export interface TestCluster extends Cluster, LoadTarget {}

export async function useCluster(options: ClusterOptions = {}): Promise<TestCluster> {
  const dataDir = testDataDir('dchain-cluster-');
  // mkdtemp makes it 0700; as root, PostgreSQL runs as the postgres account and must get through.
  chmodSync(dataDir, 0o755);
  const [api, source, mirror] = [await freePort(), await freePort(), await freePort()];
  const config = parseConfig({
    dataDir,
    log: { level: 'info' },
    api: { port: api },
    // These tests count deliveries, not verdicts: with no vulnerability data here the enforcing built-in
    // policy would (rightly) block every image, so it runs in dry-run and every chain completes.
    policy: { mode: 'dry-run' },
    registries: [
      { name: 'source', url: `http://127.0.0.1:${source}`, managed: true },
      { name: 'mirror', url: `http://127.0.0.1:${mirror}`, managed: true },
    ],
  });
  const logger = createLogger({ level: 'warn', name: 'cluster-test' });
  const cluster = await startCluster(config, logger, { sentinelDownAfterMs: 1000, ...options });
  onCleanup(() => cluster.stop());
  const connection = await Connection.connect({ address: cluster.config.temporal.address as string });
  onCleanup(() => connection.close());
  return {
    ...cluster,
    client: new Client({ connection, namespace: config.temporal.namespace }),
    sourceUrl: `http://127.0.0.1:${source}`,
    workDir: testDataDir('dchain-cluster-images-'),
  };
}
