import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { Worker } from 'bullmq';
import { type Redis } from 'ioredis';
import { ChainError } from '../../../src/errors/chain-error';
import {
  cappedBackoff,
  type ChainStarter,
  createIngestProcessor,
  DeliveryLog,
  INGEST_QUEUE_NAME,
  IngestQueue,
  type IngestJob,
  workerConnection,
} from '../../../src/ingest';
import { createLogger } from '../../../src/log/logger';
import { type LocalRedis } from '../../../workers/local/redis-server';
import { useRedis } from '../../support/services';
import { type ChainInput } from '../../../src/chain';

const run = promisify(execFile);
const ROOT = join(__dirname, '..', '..', '..');
const logger = createLogger({ level: 'silent' });

/** A chain starter that answers from a script: what Temporal would say, call after call. */
class ScriptedStarter implements ChainStarter {
  calls: Array<{ input: ChainInput; tags: string[] }> = [];
  constructor(private readonly script: Array<'ok' | 'down' | 'refused'>) {}
  async startOrSignal(input: ChainInput, tags: string[]) {
    this.calls.push({ input, tags });
    const next = this.script[Math.min(this.calls.length - 1, this.script.length - 1)];
    if (next === 'down') throw new ChainError('SERVICE_UNREACHABLE', 'temporal is down');
    if (next === 'refused') throw new ChainError('BAD_INPUT', 'namespace refuses this workflow', { retryable: false });
    return 'running' as const;
  }
  async startBuild() {
    return 'running' as const;
  }
}

const event = (n: number): ChainInput => ({
  registry: 'source',
  repository: `dl/app-${n}`,
  digest: `sha256:${String(n).repeat(64).slice(0, 64)}`,
  tags: ['v1'],
  pushedAt: new Date().toISOString(),
  source: 'dist',
});

void describe('retries, dead letters and replay (real Redis)', () => {
  let redisServer: LocalRedis;
  let redis: Redis;
  let queue: IngestQueue;
  before(async () => {
    redisServer = await useRedis();
    redis = workerConnection(redisServer.url);
    queue = new IngestQueue(redis, { dedupTtlMs: 60_000, attempts: 3 });
  });
  after(async () => {
    await queue.close();
    redis.disconnect();
  });

  async function drain(starter: ChainStarter, until: () => Promise<boolean>): Promise<void> {
    const connection = redis.duplicate({ maxRetriesPerRequest: null });
    const worker = new Worker<IngestJob>(INGEST_QUEUE_NAME, createIngestProcessor({ starter, queue, logger }), {
      connection,
      settings: { backoffStrategy: (n: number) => cappedBackoff(200)(n) },
    });
    try {
      for (let i = 0; i < 100 && !(await until()); i++) await new Promise((r) => setTimeout(r, 100));
    } finally {
      await worker.close();
      connection.disconnect();
    }
  }

  const cli = async (...args: string[]) => {
    const { stdout } = await run(process.execPath, ['--import', 'tsx', join(ROOT, 'cli', 'dchain.ts'), ...args], {
      cwd: ROOT,
      env: { ...process.env, DCHAIN_REDIS_URL: redisServer.url },
    });
    return stdout;
  };

  void it('retries while the orchestrator is down, then starts the chain', async () => {
    const starter = new ScriptedStarter(['down', 'down', 'ok']);
    const { jobId } = await queue.submit(event(1));
    await drain(starter, async () => (await queue.queue.getJob(String(jobId)))?.finishedOn !== undefined);
    const job = await queue.queue.getJob(String(jobId));
    assert.equal(job?.attemptsMade, 3);
    assert.equal(await job?.isCompleted(), true);
    assert.equal(starter.calls.length, 3);
    assert.deepEqual(starter.calls[0]?.tags, ['v1']);
  });

  void it('dead-letters a permanently refused event at once and one out of attempts, listed by the CLI', async () => {
    await queue.submit(event(2));
    await drain(new ScriptedStarter(['refused']), async () => (await queue.depth()).dead === 1);
    await queue.submit(event(3));
    await drain(new ScriptedStarter(['down']), async () => (await queue.depth()).dead === 2);
    const listed = JSON.parse(await cli('webhooks', 'dead-letters', '--json')) as { deadLetters: Array<{ id: string; reason: string; attempts: number }> };
    const byReason = listed.deadLetters.map((d) => [d.attempts, d.reason]).sort();
    assert.deepEqual(byReason, [
      [1, 'BAD_INPUT: namespace refuses this workflow'],
      [3, 'SERVICE_UNREACHABLE: temporal is down'],
    ]);
  });

  void it('replays dead letters from the CLI into the queue, where they start their chain', async () => {
    const out = await cli('webhooks', 'replay', '--all');
    assert.equal(out.trim().split('\n').length, 2);
    assert.equal((await queue.depth()).dead, 0);
    const starter = new ScriptedStarter(['ok']);
    await drain(starter, async () => starter.calls.length === 2);
    assert.deepEqual(starter.calls.map((c) => c.input.repository).sort(), ['dl/app-2', 'dl/app-3']);
    await assert.rejects(cli('webhooks', 'replay', 'no-such-id'), /no dead letter with id no-such-id/);
  });

  void it('shows the delivery log newest first', async () => {
    const log = new DeliveryLog(redis, 100);
    log.record({ time: '2026-01-01T00:00:00.000Z', source: 'dist', status: 202, outcome: 'accepted', workflowIds: ['chain:a'], events: 1 });
    log.record({
      time: '2026-01-01T00:00:01.000Z',
      source: 'dist',
      status: 401,
      outcome: 'unauthorized',
      workflowIds: [],
      events: 0,
      error: 'missing Authorization header',
    });
    await log.flush();
    const { deliveries } = JSON.parse(await cli('webhooks', 'log', '-n', '5', '--json')) as { deliveries: Array<{ status: number }> };
    assert.deepEqual(
      deliveries.map((d) => d.status),
      [401, 202],
    );
    assert.match(await cli('webhooks', 'log'), /unauthorized/);
  });
});
