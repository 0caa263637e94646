/**
 * The chain's metrics, measured where every stage runs: an activity interceptor of the Temporal
 * worker. Stage durations by activity and outcome, gate verdicts, rescan results.
 */
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { FAILURE_TYPES } from '../../src/chain';
import { type ActivityInterceptorsFactory } from '@temporalio/worker';
import { Counter, Histogram, type Registry } from 'prom-client';

export function chainMetricsInterceptor(registry: Registry): ActivityInterceptorsFactory {
  const duration = new Histogram({
    name: 'dchain_chain_stage_duration_seconds',
    help: 'Duration of each chain activity attempt (build, scan, gate, sign, sync, distribute, rescan steps), by outcome',
    labelNames: ['activity', 'outcome'] as const,
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
    registers: [registry],
  });
  const verdicts = new Counter({
    name: 'dchain_gate_verdicts_total',
    help: 'Gate decisions of chains, by verdict',
    labelNames: ['verdict'] as const,
    registers: [registry],
  });
  const rescans = new Counter({
    name: 'dchain_rescan_results_total',
    help: 'Images re-gated by the rescan, by result',
    labelNames: ['result'] as const,
    registers: [registry],
  });
  return () => ({
    inbound: {
      async execute(input, next) {
        const activity = Context.current().info.activityType;
        const end = duration.startTimer({ activity });
        try {
          const result = await next(input);
          end({ outcome: 'completed' });
          if (activity === 'evaluateGate') verdicts.inc({ verdict: 'allowed' });
          if (activity === 'regateImage') rescans.inc({ result: String((result as { verdict?: unknown } | undefined)?.verdict ?? 'unknown') });
          return result;
        } catch (err) {
          const denied = err instanceof ApplicationFailure && err.type === FAILURE_TYPES.policyDenied;
          end({ outcome: denied ? 'denied' : 'failed' });
          if (activity === 'evaluateGate') verdicts.inc({ verdict: denied ? 'denied' : 'error' });
          if (activity === 'regateImage') rescans.inc({ result: 'failed' });
          throw err;
        }
      },
    },
  });
}
