/**
 * A scan worker in its own process, so a test can measure what scanning one image costs it: runs the
 * real scan activity (configuration schema → limits → scan) once and prints one JSON line with the
 * outcome and the process's peak RSS (getrusage's maxrss). Input: one JSON argument.
 */
import { MockActivityEnvironment } from '@temporalio/testing';
import { ApplicationFailure } from '@temporalio/common';
import { createActivityDeps } from '../../activities/deps';
import { createScanActivities } from '../../activities/scan';
import { configSchema } from '../../src/config/schema';
import { createLogger } from '../../src/log/logger';
import { type ScanSummary } from '../../src/scan';

export interface ScanChildInput {
  dataDir: string;
  registryUrl: string;
  redisUrl: string;
  osvDirectory: string;
  repository: string;
  digest: string;
  limits: Record<string, number>;
}

export interface ScanChildOutput {
  summary?: { packageCount: number; digest: string };
  failure?: { type: string; message: string; nonRetryable: boolean };
  peakRssBytes: number;
  seconds: number;
}

async function main(): Promise<void> {
  const input = JSON.parse(process.argv[2]!) as ScanChildInput;
  const config = configSchema.parse({
    dataDir: input.dataDir,
    registries: [{ name: 'source', url: input.registryUrl }],
    redis: { url: input.redisUrl },
    scan: { osv: { directory: input.osvDirectory }, limits: input.limits },
  });
  const deps = createActivityDeps(config, createLogger({ level: 'silent' }));
  const activities = createScanActivities(deps);
  const started = performance.now();
  const out: ScanChildOutput = { peakRssBytes: 0, seconds: 0 };
  try {
    const summary = (await new MockActivityEnvironment().run(activities.scanImage, {
      registry: 'source',
      repository: input.repository,
      digest: input.digest,
    })) as ScanSummary;
    out.summary = { packageCount: summary.packageCount, digest: summary.digest };
  } catch (err) {
    const f = err instanceof ApplicationFailure ? err : undefined;
    out.failure = { type: f?.type ?? (err as Error).name, message: (err as Error).message, nonRetryable: f?.nonRetryable ?? false };
  }
  out.seconds = Math.round((performance.now() - started) / 100) / 10;
  out.peakRssBytes = process.resourceUsage().maxRSS * 1024;
  process.stdout.write(`${JSON.stringify(out)}\n`);
  deps.redis.disconnect();
  process.exit(0);
}

void main();
