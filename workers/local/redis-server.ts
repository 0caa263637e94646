import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Redis, type RedisOptions } from 'ioredis';
import { freePort, ManagedProcess, portOpen, type ServiceProcess } from './managed-process';
import { requireTool } from './tools';

export interface LocalRedis {
  url: string;
  port: number;
  process: ServiceProcess;
}

/**
 * A production-shaped Redis: TLS only (the plain port closed), client certificates signed by `caFile`
 * required, and AUTH as an ACL user (the default user off).
 */
export interface SecureRedisOptions {
  certFile: string;
  keyFile: string;
  caFile: string;
  username: string;
  password: string;
}

/** redis-server on loopback with AOF on and its files in dataDir. */
export async function startRedis(options: {
  dataDir: string;
  port?: number;
  logFile?: string;
  detached?: boolean;
  secure?: SecureRedisOptions;
  /** How long it may take to answer (default 20 s): longer when it starts on data it must load first. */
  readyTimeoutMs?: number;
}): Promise<LocalRedis> {
  const binary = requireTool('redis-server', 'Debian package redis-server');
  const port = options.port ?? (await freePort());
  mkdirSync(options.dataDir, { recursive: true });
  const { secure } = options;
  const url = `${secure ? 'rediss' : 'redis'}://127.0.0.1:${port}`;
  // The password goes in a file only the owner reads, not on a command line `ps` shows.
  const configFile = join(options.dataDir, 'redis-secure.conf');
  if (secure) {
    writeFileSync(
      configFile,
      [
        'port 0',
        `tls-port ${port}`,
        `tls-cert-file ${secure.certFile}`,
        `tls-key-file ${secure.keyFile}`,
        `tls-ca-cert-file ${secure.caFile}`,
        'tls-auth-clients yes',
        'user default off',
        `user ${secure.username} on >${secure.password} ~* &* +@all`,
        '',
      ].join('\n'),
      { mode: 0o600 },
    );
  }
  const clientOptions: RedisOptions = secure
    ? {
        username: secure.username,
        password: secure.password,
        tls: { ca: readFileSync(secure.caFile), cert: readFileSync(secure.certFile), key: readFileSync(secure.keyFile) },
      }
    : {};
  const proc = new ManagedProcess({
    name: 'redis',
    command: binary,
    args: [
      ...(secure ? [configFile] : []),
      '--bind',
      '127.0.0.1',
      ...(secure ? [] : ['--port', String(port)]),
      '--dir',
      options.dataDir,
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
      // BullMQ needs keys to stay: never evict.
      '--maxmemory-policy',
      'noeviction',
    ],
    logFile: options.logFile ?? join(options.dataDir, 'redis.log'),
    detached: options.detached === true,
    readyTimeoutMs: options.readyTimeoutMs ?? 20_000,
    ready: async () => {
      if (!(await portOpen(port))) return false;
      const client = new Redis(url, { ...clientOptions, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
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
