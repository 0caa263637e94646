/**
 * Redis with a replica and three Sentinels on loopback: the shape a production Redis for the chain
 * takes. Clients ask a Sentinel for the current primary (ioredis `sentinels` + `name`), so when the
 * primary dies and the Sentinels promote the replica, they reconnect to it with no restart.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { Redis, type RedisOptions } from 'ioredis';
import { ChainError } from '../../src/errors';
import { freePort, logTail, ManagedProcess, portOpen, type ServiceProcess } from './managed-process';
import { type SecureRedisOptions } from './redis-server';
import { requireTool } from './tools';

export const SENTINEL_MASTER_NAME = 'dchain';
/** Discovery (hello messages every 2 s) and the replica's first sync (diskless, after 5 s) take seconds. */
const FAILOVER_READY_MS = 60_000;

export interface LocalRedisSentinel {
  /** The name the Sentinels monitor the primary under. */
  name: string;
  sentinels: Array<{ host: string; port: number }>;
  /** The two data nodes; which one is primary changes on failover (ask `currentPrimary`). */
  nodes: Array<{ port: number; process: ServiceProcess }>;
  sentinelProcesses: ServiceProcess[];
  /** The port of the node the Sentinels currently call primary. */
  currentPrimary(): Promise<number>;
  /**
   * Resolves once every Sentinel could fail over now: it sees the other two and the replica, the
   * replica is up and linked to the primary, and CKQUORUM finds a quorum and a majority. Throws
   * after `timeoutMs` with what each Sentinel reported and the tail of its log.
   */
  waitFailoverReady(timeoutMs: number): Promise<void>;
  /** Each Sentinel's view of the primary and the replicas, with the tail of its log: for a failure's message. */
  describe(): Promise<string>;
  stop(): Promise<void>;
}

/** The launcher's own client options: TLS with the nodes' certificate and AUTH, when the topology is secured. */
function clientOptions(secure: SecureRedisOptions | undefined, sentinel: boolean): RedisOptions {
  if (!secure) return {};
  const tls = { ca: readFileSync(secure.caFile), cert: readFileSync(secure.certFile), key: readFileSync(secure.keyFile) };
  return sentinel ? { password: secure.password, tls } : { username: secure.username, password: secure.password, tls };
}

async function answersPing(port: number, options: RedisOptions = {}): Promise<boolean> {
  if (!(await portOpen(port))) return false;
  const client = new Redis({ ...options, port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  client.on('error', () => undefined);
  try {
    await client.connect();
    return (await client.ping()) === 'PONG';
  } finally {
    client.disconnect();
  }
}

/**
 * TLS only (client certificates required, replication over TLS too) and an ACL user, the default user
 * off; the replica authenticates to the primary as that user. In a file: passwords stay off `ps`.
 */
function secureNodeConfig(dir: string, port: number, secure: SecureRedisOptions): string {
  const file = join(dir, 'redis-secure.conf');
  writeFileSync(
    file,
    [
      'port 0',
      `tls-port ${port}`,
      `tls-cert-file ${secure.certFile}`,
      `tls-key-file ${secure.keyFile}`,
      `tls-ca-cert-file ${secure.caFile}`,
      'tls-auth-clients yes',
      'tls-replication yes',
      `replica-announce-port ${port}`,
      'user default off',
      `user ${secure.username} on >${secure.password} ~* &* +@all`,
      `masteruser ${secure.username}`,
      `masterauth ${secure.password}`,
      '',
    ].join('\n'),
    { mode: 0o600 },
  );
  return file;
}

function dataNode(name: string, port: number, dir: string, extra: string[], secure?: SecureRedisOptions): ManagedProcess {
  mkdirSync(dir, { recursive: true });
  return new ManagedProcess({
    name,
    command: requireTool('redis-server', 'Debian package redis-server'),
    args: [
      ...(secure ? [secureNodeConfig(dir, port, secure)] : []),
      '--bind',
      '127.0.0.1',
      ...(secure ? [] : ['--port', String(port)]),
      '--dir',
      dir,
      '--appendonly',
      'yes',
      '--appendfsync',
      'everysec',
      '--save',
      '',
      '--daemonize',
      'no',
      '--protected-mode',
      'yes',
      '--loglevel',
      'warning',
      '--maxmemory-policy',
      'noeviction',
      // Announced to the Sentinels and the other node as it is reached.
      '--replica-announce-ip',
      '127.0.0.1',
      ...extra,
    ],
    logFile: join(dir, 'redis.log'),
    readyTimeoutMs: 20_000,
    ready: () => answersPing(port, clientOptions(secure, false)),
  });
}

/** A Sentinel reply's flat [name, value, …] list as an object. */
function fields(reply: unknown): Record<string, string> {
  const list: unknown[] = Array.isArray(reply) ? reply : [];
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < list.length; i += 2) out[String(list[i])] = String(list[i + 1]);
  return out;
}

function tailText(file: string, lines: number): string {
  return logTail(file, lines).join('\n') || `(no log at ${file})`;
}

/** Runs commands on one Sentinel over one short-lived connection; a command's error reply comes back as an Error in its place. */
async function askSentinel(sentinel: { host: string; port: number }, secure: SecureRedisOptions | undefined, commands: string[][]): Promise<unknown[]> {
  const client = new Redis({ ...clientOptions(secure, true), ...sentinel, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  client.on('error', () => undefined);
  try {
    await client.connect();
    const replies: unknown[] = [];
    for (const [command, ...args] of commands) replies.push(await client.call(command as string, ...args).catch((err: unknown) => err));
    return replies;
  } finally {
    client.disconnect();
  }
}

export interface RedisSentinelOptions {
  dataDir: string;
  /** How long a primary must be unreachable before the Sentinels agree it is down. */
  downAfterMs?: number;
  /**
   * Secured like production: data nodes and Sentinels on TLS only with client certificates, the data
   * nodes' ACL user (`username`/`password`), the Sentinels' own password (`password` too).
   */
  secure?: SecureRedisOptions;
}

export async function startRedisSentinel(options: RedisSentinelOptions): Promise<LocalRedisSentinel> {
  const started: ServiceProcess[] = [];
  // Each Sentinel's directory: its config file (which it rewrites) and its log.
  const sentinelDir = (i: number) => join(options.dataDir, `sentinel-${i}`);
  const stop = async () => {
    for (const proc of [...started].reverse()) await proc.stop();
  };
  try {
    const [primaryPort, replicaPort] = [await freePort(), await freePort()];
    const { secure } = options;
    const primary = dataNode('redis-a', primaryPort, join(options.dataDir, 'a'), [], secure);
    await primary.start();
    started.push(primary);
    const replica = dataNode('redis-b', replicaPort, join(options.dataDir, 'b'), ['--replicaof', '127.0.0.1', String(primaryPort)], secure);
    await replica.start();
    started.push(replica);

    const sentinelBin = requireTool('redis-sentinel', 'Debian package redis-sentinel');
    const sentinels: Array<{ host: string; port: number }> = [];
    const sentinelProcesses: ServiceProcess[] = [];
    for (let i = 0; i < 3; i++) {
      const port = await freePort();
      const dir = sentinelDir(i);
      mkdirSync(dir, { recursive: true });
      // Sentinel rewrites its own file (known replicas, epochs, the current primary): a file per Sentinel.
      const conf = join(dir, 'sentinel.conf');
      writeFileSync(
        conf,
        [
          ...(secure
            ? [
                'port 0',
                `tls-port ${port}`,
                `tls-cert-file ${secure.certFile}`,
                `tls-key-file ${secure.keyFile}`,
                `tls-ca-cert-file ${secure.caFile}`,
                'tls-auth-clients yes',
                'tls-replication yes',
                `sentinel announce-port ${port}`,
                `requirepass ${secure.password}`,
                `sentinel sentinel-pass ${secure.password}`,
              ]
            : [`port ${port}`]),
          'bind 127.0.0.1',
          'daemonize no',
          `dir ${dir}`,
          'sentinel announce-ip 127.0.0.1',
          `sentinel monitor ${SENTINEL_MASTER_NAME} 127.0.0.1 ${primaryPort} 2`,
          `sentinel down-after-milliseconds ${SENTINEL_MASTER_NAME} ${options.downAfterMs ?? 2000}`,
          `sentinel failover-timeout ${SENTINEL_MASTER_NAME} 10000`,
          `sentinel parallel-syncs ${SENTINEL_MASTER_NAME} 1`,
          ...(secure ? [`sentinel auth-user ${SENTINEL_MASTER_NAME} ${secure.username}`, `sentinel auth-pass ${SENTINEL_MASTER_NAME} ${secure.password}`] : []),
          '',
        ].join('\n'),
        { mode: 0o600 },
      );
      const proc = new ManagedProcess({
        name: `redis-sentinel-${i}`,
        command: sentinelBin,
        args: [conf],
        logFile: join(dir, 'sentinel.log'),
        readyTimeoutMs: 20_000,
        ready: () => answersPing(port, clientOptions(secure, true)),
      });
      await proc.start();
      started.push(proc);
      sentinelProcesses.push(proc);
      sentinels.push({ host: '127.0.0.1', port });
    }
    const currentPrimary = async (): Promise<number> => {
      for (const s of sentinels) {
        try {
          const [addr] = await askSentinel(s, secure, [['SENTINEL', 'get-master-addr-by-name', SENTINEL_MASTER_NAME]]);
          if (Array.isArray(addr)) return Number(addr[1]);
        } catch {
          // ask the next Sentinel
        }
      }
      throw new Error('no Sentinel answers');
    };
    /** One Sentinel's view of the primary, its replicas and CKQUORUM's answer (an error reply as its text). */
    const viewOf = async (s: { host: string; port: number }) => {
      const [master, replicas, quorum, info] = await askSentinel(s, secure, [
        ['SENTINEL', 'MASTER', SENTINEL_MASTER_NAME],
        ['SENTINEL', 'REPLICAS', SENTINEL_MASTER_NAME],
        ['SENTINEL', 'CKQUORUM', SENTINEL_MASTER_NAME],
        ['INFO', 'sentinel'],
      ]);
      return {
        // A Sentinel in TILT mode (its timer late by 2 s or the clock stepped) does not act for 30 s.
        tilt:
          typeof info === 'string'
            ? info
                .split(/\r?\n/)
                .filter((line) => line.startsWith('sentinel_tilt'))
                .join(' ')
            : undefined,
        master: fields(master),
        replicas: (Array.isArray(replicas) ? replicas : []).map(fields),
        quorum: quorum instanceof Error ? quorum.message : String(quorum),
      };
    };
    const describe = async (): Promise<string> => {
      const parts: string[] = [];
      for (const [i, s] of sentinels.entries()) {
        const view = await viewOf(s).then(
          (v) => JSON.stringify(v),
          (err: unknown) => `no answer: ${(err as Error).message}`,
        );
        parts.push(`sentinel-${i} :${s.port} ${view}\n${tailText(join(sentinelDir(i), 'sentinel.log'), 25)}`);
      }
      for (const [node, port] of [
        ['a', primaryPort],
        ['b', replicaPort],
      ] as const) {
        parts.push(`redis-${node} :${port}\n${tailText(join(options.dataDir, node, 'redis.log'), 15)}`);
      }
      return parts.join('\n');
    };
    const failoverReady = async (): Promise<boolean> => {
      for (const s of sentinels) {
        const { master, replicas, quorum, tilt } = await viewOf(s);
        if (!tilt?.includes('sentinel_tilt:0')) return false;
        const linked = replicas.filter((r) => r.flags === 'slave' && r['master-link-status'] === 'ok');
        if (master.flags !== 'master' || Number(master['num-other-sentinels']) < sentinels.length - 1) return false;
        if (linked.length === 0 || !quorum.startsWith('OK')) return false;
      }
      return true;
    };
    const waitFailoverReady = async (timeoutMs: number): Promise<void> => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        try {
          if (await failoverReady()) return;
        } catch {
          // a Sentinel not answering yet: ask again
        }
        if (Date.now() > deadline) throw new ChainError('SERVICE_START_FAILED', `the Sentinels cannot fail over after ${timeoutMs} ms:\n${await describe()}`);
        await delay(250);
      }
    };
    // Ready means able to fail over: a primary killed before the Sentinels know each other and the
    // replica, or before the replica's first sync, would stay dead.
    await waitFailoverReady(FAILOVER_READY_MS);
    return {
      name: SENTINEL_MASTER_NAME,
      sentinels,
      waitFailoverReady,
      describe,
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
