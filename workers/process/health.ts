/**
 * What /healthz and `dchain status` report: every component the chain needs, each up or down with
 * a reason. Temporal answers; each task queue has a worker polling it (DescribeTaskQueue: a poller
 * seen recently); Redis answers PING; every configured registry answers /v2/; the OSV data's age;
 * and under `npm start` the supervisor's view of its processes (one being restarted is down).
 * Unhealthy (503) when any component is down; stale OSV data is reported but is not an outage
 * (scans then deny by policy, which is the fail-closed answer).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Connection } from '@temporalio/client';
import { connectionOptions, temporalAddress } from '../temporal/connect';
import { type Redis } from 'ioredis';
import { type Config, durationMs } from '../../src/config';
import { scanTaskQueue } from '../../workflows/task-queues';

export interface ComponentHealth {
  status: 'up' | 'down' | 'stale';
  detail?: string;
}

export interface HealthReport {
  status: 'ok' | 'unhealthy';
  components: Record<string, ComponentHealth>;
}

/** A worker long-polls a task queue for up to about a minute, then polls again: older than this, it is gone. */
const POLLER_FRESH_MS = 90_000;
const CHECK_TIMEOUT_MS = 2_000;
/** temporal.api.enums.v1.TaskQueueType (the proto package is not a direct dependency). */
const TaskQueueType = { TASK_QUEUE_TYPE_WORKFLOW: 1, TASK_QUEUE_TYPE_ACTIVITY: 2 } as const;

function withTimeout<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: no answer within ${CHECK_TIMEOUT_MS} ms`)), CHECK_TIMEOUT_MS);
    }),
  ]);
}

const message = (err: unknown) => (err instanceof Error ? err.message : String(err));

export class HealthChecker {
  private connection: Promise<Connection> | undefined;

  constructor(
    private readonly config: Config,
    private readonly redis: Redis,
    /** stack.json of the `npm start` supervisor, when this process runs under it. */
    private readonly stackFile: string | undefined = process.env.DCHAIN_STACK_FILE,
  ) {}

  async check(): Promise<HealthReport> {
    const components: Record<string, ComponentHealth> = {};
    // The supervisor's view is read before and after the probes: a child that was restarting when the check
    // began, or restarted while it ran, is an outage even if it is back by the time the probes (which retry,
    // e.g. Temporal's client on UNAVAILABLE) have answered.
    const before = this.supervised();
    const set = async (name: string, probe: () => Promise<ComponentHealth>) => {
      components[name] = await probe().catch((err: unknown) => ({ status: 'down' as const, detail: message(err) }));
    };
    await Promise.all([
      set('redis', () => this.checkRedis()),
      this.checkTemporal(components),
      ...this.config.registries.map((r) => set(`registry:${r.name}`, () => this.checkRegistry(r.url))),
      set('osv', async () => this.checkOsv()),
    ]);
    const after = this.supervised();
    for (const [name, now] of Object.entries(after)) {
      const then = before[name];
      if (then && then.status === 'down') components[name] = { status: then.status, detail: then.detail };
      else if (then && then.restarts !== now.restarts) components[name] = { status: 'down', detail: `restarted during the check (${now.detail})` };
      else components[name] = { status: now.status, detail: now.detail };
    }
    const down = Object.values(components).some((c) => c.status === 'down');
    return { status: down ? 'unhealthy' : 'ok', components };
  }

  async close(): Promise<void> {
    const connection = await this.connection?.catch(() => undefined);
    await connection?.close();
  }

  private async checkRedis(): Promise<ComponentHealth> {
    if (this.redis.status !== 'ready') return { status: 'down', detail: `connection ${this.redis.status}` };
    await withTimeout(this.redis.ping(), 'Redis PING');
    return { status: 'up' };
  }

  private async checkTemporal(components: Record<string, ComponentHealth>): Promise<void> {
    const { namespace, taskQueue } = this.config.temporal;
    const address = temporalAddress(this.config);
    const queues = [
      { name: `pollers:${taskQueue}:workflow`, taskQueue, type: TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW },
      { name: `pollers:${taskQueue}:activity`, taskQueue, type: TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY },
      { name: `pollers:${scanTaskQueue(taskQueue)}:activity`, taskQueue: scanTaskQueue(taskQueue), type: TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY },
    ];
    let connection: Connection;
    try {
      this.connection ??= Connection.connect(connectionOptions(this.config, { connectTimeout: CHECK_TIMEOUT_MS }));
      connection = await withTimeout(this.connection, `Temporal at ${address}`);
      await withTimeout(connection.workflowService.describeNamespace({ namespace }), `Temporal at ${address}`);
      components.temporal = { status: 'up' };
    } catch (err) {
      // A connection that never came up is made again on the next check; a made one reconnects by itself.
      if (!(await this.connection?.then(() => true).catch(() => false))) this.connection = undefined;
      components.temporal = { status: 'down', detail: message(err) };
      for (const q of queues) components[q.name] = { status: 'down', detail: 'Temporal unreachable' };
      return;
    }
    await Promise.all(
      queues.map(async (q) => {
        try {
          const res = await withTimeout(
            connection.workflowService.describeTaskQueue({ namespace, taskQueue: { name: q.taskQueue }, taskQueueType: q.type }),
            `DescribeTaskQueue ${q.taskQueue}`,
          );
          const now = Date.now();
          const fresh = (res.pollers ?? []).filter((p) => now - Number(p.lastAccessTime?.seconds ?? 0) * 1000 < POLLER_FRESH_MS);
          components[q.name] = fresh.length
            ? { status: 'up', detail: `${fresh.length} poller(s): ${fresh.map((p) => p.identity).join(', ')}` }
            : { status: 'down', detail: 'no worker polls this task queue' };
        } catch (err) {
          components[q.name] = { status: 'down', detail: message(err) };
        }
      }),
    );
  }

  private async checkRegistry(url: string): Promise<ComponentHealth> {
    const res = await fetch(`${url.replace(/\/$/, '')}/v2/`, { signal: AbortSignal.timeout(CHECK_TIMEOUT_MS) });
    await res.body?.cancel();
    // 401: the registry answers and wants credentials, which is how an authenticated one says it is up.
    return res.status === 200 || res.status === 401 ? { status: 'up' } : { status: 'down', detail: `GET /v2/ answered ${res.status}` };
  }

  private checkOsv(): ComponentHealth {
    const dataDir = resolve(this.config.dataDir);
    const dirs = [resolve(this.config.scan.osv.directory ?? join(dataDir, 'osv')), join(dataDir, 'osv-cache')];
    const newest = Math.max(0, ...dirs.map((d) => newestMtime(d, 2)));
    if (newest === 0) return { status: 'stale', detail: `no OSV data in ${dirs[0]}${this.config.scan.osv.download.enabled ? ' or the download cache' : ''}` };
    const ageMs = Date.now() - newest;
    const maxAgeMs = durationMs(this.config.scan.osv.maxAge);
    const age = `${Math.round(ageMs / 60_000)} min old`;
    return ageMs <= maxAgeMs
      ? { status: 'up', detail: age }
      : { status: 'stale', detail: `${age}, older than scan.osv.maxAge (${this.config.scan.osv.maxAge})` };
  }

  private supervised(): Record<string, ComponentHealth & { restarts?: number }> {
    if (!this.stackFile) return {};
    try {
      const stack = JSON.parse(readFileSync(this.stackFile, 'utf8')) as { supervised?: Record<string, { state: string; restarts: number; pid?: number }> };
      return Object.fromEntries(
        Object.entries(stack.supervised ?? {}).map(([name, s]) => [
          `process:${name}`,
          {
            status: s.state === 'running' ? ('up' as const) : ('down' as const),
            detail: `${s.state}${s.pid ? `, pid ${s.pid}` : ''}, ${s.restarts} restart(s)`,
            restarts: s.restarts,
          },
        ]),
      );
    } catch {
      return {}; // between the stack's start and its first write, or after its stop
    }
  }
}

/** Newest modification time (ms) of the files under `dir`, `depth` levels deep; 0 when there are none. */
function newestMtime(dir: string, depth: number): number {
  let newest = 0;
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return 0;
  }
  for (const entry of entries) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (depth > 0) newest = Math.max(newest, newestMtime(path, depth - 1));
    } else if (entry.isFile()) {
      newest = Math.max(newest, statSync(path).mtimeMs);
    }
  }
  return newest;
}
