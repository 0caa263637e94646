import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort, ManagedProcess, portOpen, type ServiceProcess } from './managed-process';
import { requireTool } from './tools';

export interface LocalRedis {
  url: string;
  port: number;
  process: ServiceProcess;
}

/** redis-server on loopback with AOF on and its files in dataDir. */
export async function startRedis(options: { dataDir: string; port?: number; logFile?: string; detached?: boolean }): Promise<LocalRedis> {
  const binary = requireTool('redis-server', 'Debian package redis-server');
  const port = options.port ?? (await freePort());
  mkdirSync(options.dataDir, { recursive: true });
  const url = `redis://127.0.0.1:${port}`;
  const proc = new ManagedProcess({
    name: 'redis',
    command: binary,
    args: [
      '--bind', '127.0.0.1', '--port', String(port), '--dir', options.dataDir,
      '--appendonly', 'yes', '--appendfsync', 'everysec', '--save', '',
      '--daemonize', 'no', '--protected-mode', 'yes', '--loglevel', 'warning',
      // BullMQ needs keys to stay: never evict.
      '--maxmemory-policy', 'noeviction',
    ],
    logFile: options.logFile ?? join(options.dataDir, 'redis.log'),
    detached: options.detached === true,
    readyTimeoutMs: 20_000,
    ready: async () => {
      if (!(await portOpen(port))) return false;
      const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
      client.on('error', () => undefined); // not up yet: connect() rejects, and the probe runs again
      try {
        await client.connect();
        return (await client.ping()) === 'PONG';
      } finally {
        client.disconnect();
      }
    },
  });
  await proc.start();
  return { url, port, process: proc };
}
