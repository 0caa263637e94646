import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, createWriteStream, fstatSync, mkdirSync, openSync, readFileSync, readSync, type WriteStream } from 'node:fs';
import { createServer } from 'node:net';
import { dirname } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { ChainError } from '../../src/errors';

export interface ManagedProcessOptions {
  name: string;
  command: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** stdout and stderr of the process are appended here. */
  logFile: string;
  /** Resolves once the service answers; polled until `readyTimeoutMs`. */
  ready: () => Promise<boolean>;
  readyTimeoutMs?: number;
  stopSignal?: NodeJS.Signals;
  /**
   * Own process group: a Ctrl-C in the terminal then reaches only the process that started it (the
   * `npm start` supervisor), which stops its children in dependency order instead of all at once.
   */
  detached?: boolean;
}

/** A running service the project started: a local process, or a container in TEST_SERVICES=containers mode. */
export interface ServiceProcess {
  readonly name: string;
  readonly pid: number | undefined;
  readonly running: boolean;
  /** Starts it again (same ports and data) after a stop. */
  start(): Promise<void>;
  stop(graceMs?: number): Promise<void>;
  kill(): Promise<void>;
}

/**
 * A local service process the project started itself (Temporal dev server, redis-server,
 * docker-registry, or one of the project's own workers). `stop()` ends exactly this process.
 */
export class ManagedProcess implements ServiceProcess {
  private child: ChildProcess | undefined;
  private log: WriteStream | undefined;
  private exited: Promise<number | null> | undefined;
  private exitCode: number | null | undefined;
  private stopping = false;
  /** Told when the process exits without `stop()` or `kill()` having been asked for (a crash). */
  onUnexpectedExit: ((code: number | null, signal: NodeJS.Signals | null) => void) | undefined;

  constructor(private readonly options: ManagedProcessOptions) {}

  get name(): string {
    return this.options.name;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get running(): boolean {
    return this.child !== undefined && this.exitCode === undefined;
  }

  async start(): Promise<void> {
    const { name, command, args, logFile } = this.options;
    mkdirSync(dirname(logFile), { recursive: true });
    const log = createWriteStream(logFile, { flags: 'a' });
    this.log = log;
    this.stopping = false;
    const child = spawn(command, args, {
      cwd: this.options.cwd,
      env: this.options.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: this.options.detached === true,
    });
    this.child = child;
    child.stdout?.pipe(log, { end: false });
    child.stderr?.pipe(log, { end: false });
    this.exitCode = undefined;
    this.exited = new Promise((resolve) => {
      child.once('error', (err) => {
        log.write(`\n[delivery-chain] cannot start ${command}: ${err.message}\n`);
        this.exitCode = null;
        resolve(null);
      });
      child.once('exit', (code, signal) => {
        this.exitCode = code;
        resolve(code);
        if (this.stopping) return;
        // Keep the crashed process's last words, then free the stream: a restart opens a new one.
        child.stdout?.once('end', () => log.end());
        this.onUnexpectedExit?.(code, signal);
      });
    });
    const deadline = Date.now() + (this.options.readyTimeoutMs ?? 60_000);
    for (;;) {
      if (this.exitCode !== undefined) throw await startFailure(log, logFile, `${name} exited (code ${String(this.exitCode)}) before it was ready`);
      if (await this.options.ready().catch(() => false)) return;
      if (Date.now() > deadline) {
        await this.stop();
        throw await startFailure(log, logFile, `${name} was not ready within ${this.options.readyTimeoutMs ?? 60_000} ms`);
      }
      await delay(100);
    }
  }

  /** SIGTERM, then SIGKILL after `graceMs`. Safe to call twice. */
  async stop(graceMs = 10_000): Promise<void> {
    this.stopping = true;
    const child = this.child;
    if (!child || this.exitCode !== undefined) {
      this.log?.end();
      return;
    }
    if (graceMs <= 0) child.kill('SIGKILL');
    else child.kill(this.options.stopSignal ?? 'SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), Math.max(0, graceMs));
    await this.exited;
    clearTimeout(timer);
    this.log?.end();
  }

  /** Kills the process without a chance to clean up (crash tests). */
  async kill(): Promise<void> {
    if (!this.child || this.exitCode !== undefined) return;
    this.stopping = true;
    this.child.kill('SIGKILL');
    await this.exited;
  }
}

/**
 * The last lines of a service's log (at most `lines`, each cut to a readable length), read from its
 * last `bytes` alone; none when the log is empty or unreadable. What an error about the service
 * carries: tests and `npm start` remove their data directories (the logs with them) when they stop,
 * so a failure on a CI machine is only understood from the error itself (a kube-apiserver that
 * exits with 255 names its fatal error on its last line).
 */
export function logTail(logFile: string, lines = 15, bytes = 16_384): string[] {
  let fd: number | undefined;
  try {
    fd = openSync(logFile, 'r');
    const size = fstatSync(fd).size;
    const length = Math.min(size, bytes);
    const buf = Buffer.alloc(length);
    readSync(fd, buf, 0, length, size - length);
    return (
      buf
        .toString('utf8')
        .split('\n')
        // A read that starts mid-file starts mid-line.
        .slice(length < size ? 1 : 0)
        .map((l) => l.trimEnd())
        .filter((l) => l !== '')
        .slice(-lines)
        .map((l) => (l.length > 400 ? `${l.slice(0, 400)}…` : l))
    );
  } catch {
    return [];
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** logTail as the end of an error message ('' when there is nothing to show). */
export function endOfLog(logFile: string): string {
  const tail = logTail(logFile);
  return tail.length ? `; its log ends:\n${tail.map((l) => `  | ${l}`).join('\n')}` : '';
}

/**
 * The error of a service that did not start, with its last words: read once the pipes have drained
 * into the log and the log is written out (the exit handler or stop() ends it); bounded, as a
 * grandchild may hold the pipes open.
 */
async function startFailure(log: WriteStream, logFile: string, what: string): Promise<ChainError> {
  if (!log.writableFinished) await Promise.race([new Promise<void>((resolve) => log.once('finish', () => resolve())), delay(2_000)]);
  return new ChainError('SERVICE_START_FAILED', `${what}; see ${logFile}${endOfLog(logFile)}`);
}

/** Ports this process already handed out: two callers at once never get the same one. */
const handedOut = new Set<number>();

let range: [number, number] | undefined;

/**
 * A TCP port that was free a moment ago on `ip`, chosen at random below the kernel's ephemeral range.
 * Why not port 0: the kernel hands ports of that range to every outgoing connection and to servers
 * that bind port 0 themselves (the Temporal dev server's internal services do), so a port it gave us
 * and we released could be taken again before the service we chose it for binds it. Below 32768 also
 * fits the Temporal cluster's membership table, which stores ports as SMALLINT.
 */
export async function freePort(ip = '127.0.0.1'): Promise<number> {
  const [low, high] = portRange();
  for (let attempt = 0; attempt < 100; attempt++) {
    const candidate = low + Math.floor(Math.random() * (high - low));
    if (handedOut.has(candidate)) continue;
    const free = await new Promise<boolean>((resolve) => {
      const server = createServer();
      server.unref();
      server.once('error', () => resolve(false));
      server.listen(candidate, ip, () => server.close(() => resolve(true)));
    });
    if (free && !handedOut.has(candidate)) {
      handedOut.add(candidate);
      return candidate;
    }
  }
  throw new ChainError('SERVICE_START_FAILED', `no free port on ${ip} between ${low} and ${high}`);
}

function portRange(): [number, number] {
  if (range) return range;
  let ephemeralLow = 32_768;
  try {
    const first = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    if (Number.isInteger(first) && first > 2_000) ephemeralLow = Math.min(first, 32_768);
  } catch {
    // not Linux: the IANA dynamic range starts at 49152, so 20000–32767 is outside it too
  }
  range = [Math.min(20_000, ephemeralLow - 1_000), ephemeralLow];
  return range;
}

/** Whether something accepts TCP connections on host:port. */
export async function portOpen(port: number, host = '127.0.0.1'): Promise<boolean> {
  const { connect } = await import('node:net');
  return new Promise((resolve) => {
    const socket = connect({ port, host });
    socket.setTimeout(1000);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(false));
  });
}
