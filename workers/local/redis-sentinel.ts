/**
 * Redis with a replica and three Sentinels on loopback: the shape a production Redis for the chain
 * takes. Clients ask a Sentinel for the current primary (ioredis `sentinels` + `name`), so when the
 * primary dies and the Sentinels promote the replica, they reconnect to it with no restart.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort, ManagedProcess, portOpen, type ServiceProcess } from './managed-process';
import { requireTool } from './tools';

export const SENTINEL_MASTER_NAME = 'dchain';

export interface LocalRedisSentinel {
  /** The name the Sentinels monitor the primary under. */
  name: string;
  sentinels: Array<{ host: string; port: number }>;
  /** The two data nodes; which one is primary changes on failover (ask `currentPrimary`). */
  nodes: Array<{ port: number; process: ServiceProcess }>;
  sentinelProcesses: ServiceProcess[];
  /** The port of the node the Sentinels currently call primary. */
  currentPrimary(): Promise<number>;
  stop(): Promise<void>;
}

async function answersPing(port: number): Promise<boolean> {
  if (!(await portOpen(port))) return false;
  const client = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  client.on('error', () => undefined);
  try {
    await client.connect();
    return (await client.ping()) === 'PONG';
  } finally {
    client.disconnect();
  }
}

function dataNode(name: string, port: number, dir: string, extra: string[]): ManagedProcess {
  mkdirSync(dir, { recursive: true });
  return new ManagedProcess({
    name,
    command: requireTool('redis-server', 'Debian package redis-server'),
    args: [
      '--bind', '127.0.0.1', '--port', String(port), '--dir', dir,
      '--appendonly', 'yes', '--appendfsync', 'everysec', '--save', '',
      '--daemonize', 'no', '--protected-mode', 'yes', '--loglevel', 'warning',
      '--maxmemory-policy', 'noeviction',
      // Announced to the Sentinels and the other node as it is reached.
      '--replica-announce-ip', '127.0.0.1',
      ...extra,
    ],
    logFile: join(dir, 'redis.log'),
    readyTimeoutMs: 20_000,
    ready: () => answersPing(port),
  });
}

export interface RedisSentinelOptions {
  dataDir: string;
  /** How long a primary must be unreachable before the Sentinels agree it is down. */
  downAfterMs?: number;
}

export async function startRedisSentinel(options: RedisSentinelOptions): Promise<LocalRedisSentinel> {
  const started: ServiceProcess[] = [];
  const stop = async () => {
    for (const proc of [...started].reverse()) await proc.stop();
  };
  try {
    const [primaryPort, replicaPort] = [await freePort(), await freePort()];
    const primary = dataNode('redis-a', primaryPort, join(options.dataDir, 'a'), []);
    await primary.start();
    started.push(primary);
    const replica = dataNode('redis-b', replicaPort, join(options.dataDir, 'b'), ['--replicaof', '127.0.0.1', String(primaryPort)]);
    await replica.start();
    started.push(replica);

    const sentinelBin = requireTool('redis-sentinel', 'Debian package redis-sentinel');
    const sentinels: Array<{ host: string; port: number }> = [];
    const sentinelProcesses: ServiceProcess[] = [];
    for (let i = 0; i < 3; i++) {
      const port = await freePort();
      const dir = join(options.dataDir, `sentinel-${i}`);
      mkdirSync(dir, { recursive: true });
      // Sentinel rewrites its own file (known replicas, epochs, the current primary): a file per Sentinel.
      const conf = join(dir, 'sentinel.conf');
      writeFileSync(
        conf,
        [
          `port ${port}`,
          'bind 127.0.0.1',
          'daemonize no',
          `dir ${dir}`,
          'sentinel announce-ip 127.0.0.1',
          `sentinel monitor ${SENTINEL_MASTER_NAME} 127.0.0.1 ${primaryPort} 2`,
          `sentinel down-after-milliseconds ${SENTINEL_MASTER_NAME} ${options.downAfterMs ?? 2000}`,
          `sentinel failover-timeout ${SENTINEL_MASTER_NAME} 10000`,
          `sentinel parallel-syncs ${SENTINEL_MASTER_NAME} 1`,
          '',
        ].join('\n'),
      );
      const proc = new ManagedProcess({
        name: `redis-sentinel-${i}`,
        command: sentinelBin,
        args: [conf],
        logFile: join(dir, 'sentinel.log'),
        readyTimeoutMs: 20_000,
        ready: () => answersPing(port),
      });
      await proc.start();
      started.push(proc);
      sentinelProcesses.push(proc);
      sentinels.push({ host: '127.0.0.1', port });
    }
    const currentPrimary = async (): Promise<number> => {
      for (const s of sentinels) {
        const client = new Redis({ ...s, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
        client.on('error', () => undefined);
        try {
          await client.connect();
          const addr = (await client.call('SENTINEL', 'get-master-addr-by-name', SENTINEL_MASTER_NAME)) as [string, string] | null;
          if (addr) return Number(addr[1]);
        } catch {
          // ask the next Sentinel
        } finally {
          client.disconnect();
        }
      }
      throw new Error('no Sentinel answers');
    };
    return {
      name: SENTINEL_MASTER_NAME,
      sentinels,
      nodes: [
        { port: primaryPort, process: primary },
        { port: replicaPort, process: replica },
      ],
      sentinelProcesses,
      currentPrimary,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
