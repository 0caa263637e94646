import { spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { ChainError } from '../../src/errors';
import { freePort, ManagedProcess, portOpen, type ServiceProcess } from './managed-process';
import { findTool } from './tools';

export interface LocalPostgres {
  host: string;
  port: number;
  /** The superuser, trusted on loopback only (a throwaway cluster for the local topology and tests). */
  user: string;
  process: ServiceProcess;
}

/** Debian installs the server binaries outside PATH, one folder per major version. */
function postgresBin(name: string): string {
  const onPath = findTool(name);
  if (onPath) return onPath;
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root)
    ? readdirSync(root)
        .filter((v) => /^\d+$/.test(v))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  for (const version of versions) {
    const candidate = join(root, version, 'bin', name);
    if (existsSync(candidate)) return candidate;
  }
  throw new ChainError('SERVICE_START_FAILED', `${name} is not installed (Debian package postgresql); run \`npm run setup -- --cluster\``);
}

/**
 * initdb and postgres refuse to run as root; as root they run as the `postgres` account the Debian
 * package creates (setpriv execs, so the pid we hold is the server's own and a stop reaches it).
 */
function asServiceUser(): { prefix: string[]; uid?: number; gid?: number } {
  if (process.getuid?.() !== 0) return { prefix: [] };
  const id = (flag: string) => spawnSync('id', [flag, 'postgres'], { encoding: 'utf8' });
  const uid = id('-u');
  const gid = id('-g');
  if (uid.status !== 0 || gid.status !== 0)
    throw new ChainError('SERVICE_START_FAILED', 'running as root needs the `postgres` account (Debian package postgresql)');
  const [u, g] = [Number(uid.stdout.trim()), Number(gid.stdout.trim())];
  return { prefix: ['setpriv', `--reuid=${u}`, `--regid=${g}`, '--clear-groups', '--'], uid: u, gid: g };
}

/**
 * A PostgreSQL cluster of its own in dataDir (created on first start), listening on loopback TCP only
 * (no Unix socket), with trust authentication for loopback: it holds nothing but this topology's data.
 */
export async function startPostgres(options: { dataDir: string; port?: number; host?: string }): Promise<LocalPostgres> {
  const host = options.host ?? '127.0.0.1';
  const port = options.port ?? (await freePort());
  const user = 'postgres';
  const pgdata = join(options.dataDir, 'pgdata');
  const service = asServiceUser();
  mkdirSync(options.dataDir, { recursive: true });
  if (service.uid !== undefined && service.gid !== undefined) chownSync(options.dataDir, service.uid, service.gid);
  if (!existsSync(join(pgdata, 'PG_VERSION'))) {
    const [cmd, ...args] = [...service.prefix, postgresBin('initdb'), '-D', pgdata, '-U', user, '--auth=trust', '--encoding=UTF8', '--locale=C.UTF-8'];
    const res = spawnSync(cmd as string, args, { encoding: 'utf8' });
    if (res.status !== 0) {
      const hint =
        service.uid === undefined ? '' : ` (as root, PostgreSQL runs as the postgres account: every directory above ${options.dataDir} must let it through)`;
      throw new ChainError('SERVICE_START_FAILED', `initdb failed${hint}: ${res.stderr || res.stdout || res.error?.message}`);
    }
  }
  const [command, ...prefixArgs] = [...service.prefix, postgresBin('postgres')];
  const proc = new ManagedProcess({
    name: 'postgres',
    command: command as string,
    args: [
      ...prefixArgs,
      '-D',
      pgdata,
      '-p',
      String(port),
      '-c',
      `listen_addresses=${host}`,
      '-c',
      'unix_socket_directories=',
      // Two Temporal server processes with their connection pools; the default of 100 is tight.
      '-c',
      'max_connections=300',
      // A throwaway cluster: crash safety of the test host is not what the failover tests measure.
      '-c',
      'fsync=off',
      '-c',
      'synchronous_commit=off',
      '-c',
      'full_page_writes=off',
    ],
    logFile: join(options.dataDir, 'postgres.log'),
    readyTimeoutMs: 60_000,
    // SIGINT is PostgreSQL's "fast" shutdown: it ends client sessions instead of waiting for them.
    stopSignal: 'SIGINT',
    ready: async () => (await portOpen(port, host)) && spawnSync(postgresBin('pg_isready'), ['-h', host, '-p', String(port), '-U', user]).status === 0,
  });
  await proc.start();
  return { host, port, user, process: proc };
}
