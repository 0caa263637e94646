/**
 * The one wrapper every activity goes through, so each activity file holds only its stage's call:
 * the input validated (BAD_INPUT naming the problem), a logger with workflowId, digest, activity
 * type and attempt, heartbeats (and a keep-alive for long stages), a cancelled activity reported as
 * the cancellation Temporal asked for, and domain errors mapped to Temporal failures (toActivityFailure).
 */
import { Context } from '@temporalio/activity';
import { z } from 'zod';
import { ChainError } from '../src/errors';
import { type Logger } from '../src/log';
import { toActivityFailure } from './errors';
import { activityLogger, activityWorkflowId } from './log';

export interface ActivityScope {
  /** workflowId, digest (the subject), activity type and attempt on every line. */
  log: Logger;
  workflowId: string;
  /** Heartbeats `details` now; the keep-alive repeats the latest ones. */
  heartbeat(details?: unknown): void;
  /** Aborted when Temporal cancels the activity (or its worker shuts down). */
  signal: AbortSignal;
  /** What the previous attempt heartbeated last: where a retry resumes. */
  resumed: unknown;
  attempt: number;
  runId: string;
}

/**
 * The keep-alive of short stages with nothing of their own to report (a push's build stage, sign,
 * promotion, notification): the chain gives them a 20 s heartbeat timeout, so a worker killed in one
 * is noticed within it and the attempt resumes elsewhere, not after the start-to-close timeout.
 */
export const KEEP_ALIVE_MS = 5_000;

export interface ActivityOptions<I> {
  /** What the logs name the work by: the image digest, usually. */
  subject?: (input: I) => string | undefined;
  /** Heartbeat at least this often while the work runs (a stage that may be silent for a while). */
  keepAliveMs?: number;
  /** Logged at warn with the error when the activity fails. */
  failure?: string;
}

export interface ValidatedActivityOptions<S extends z.ZodType> extends ActivityOptions<z.output<S>> {
  /** Validates the input first: a non-retryable BAD_INPUT that names the problem. */
  input: S;
}

export function activity<S extends z.ZodType, R>(
  logger: Logger,
  options: ValidatedActivityOptions<S>,
  run: (input: z.output<S>, scope: ActivityScope) => Promise<R>,
): (input: z.input<S>) => Promise<R>;
export function activity<I, R>(logger: Logger, options: ActivityOptions<I>, run: (input: I, scope: ActivityScope) => Promise<R>): (input: I) => Promise<R>;
export function activity(
  logger: Logger,
  options: ActivityOptions<unknown> & { input?: z.ZodType },
  run: (input: unknown, scope: ActivityScope) => Promise<unknown>,
): (input: unknown) => Promise<unknown> {
  return async (raw: unknown) => {
    const ctx = Context.current();
    let log = activityLogger(logger, '');
    let alive: NodeJS.Timeout | undefined;
    try {
      const input = options.input ? parse(options.input, raw, ctx.info.activityType) : raw;
      log = activityLogger(logger, options.subject?.(input) ?? '');
      let latest: unknown;
      const heartbeat = (details?: unknown) => {
        latest = details;
        ctx.heartbeat(details);
      };
      if (options.keepAliveMs) alive = setInterval(() => ctx.heartbeat(latest), options.keepAliveMs);
      const scope: ActivityScope = {
        log,
        workflowId: activityWorkflowId(),
        heartbeat,
        signal: ctx.cancellationSignal,
        resumed: ctx.info.heartbeatDetails,
        attempt: ctx.info.attempt,
        runId: ctx.info.workflowExecution?.runId ?? 'standalone',
      };
      return await run(input, scope);
    } catch (err) {
      // A cancelled copy or build stops where it is; report it as the cancellation Temporal asked for.
      if (ctx.cancellationSignal.aborted) throw ctx.cancellationSignal.reason;
      if (options.failure) log.warn({ err }, options.failure);
      return toActivityFailure(err);
    } finally {
      if (alive) clearInterval(alive);
    }
  };
}

function parse(schema: z.ZodType, raw: unknown, activityType: string): unknown {
  const parsed = schema.safeParse(raw);
  if (parsed.success) return parsed.data;
  throw new ChainError('BAD_INPUT', `${activityType} input is invalid: ${z.prettifyError(parsed.error).replace(/\n/g, '; ')}`);
}
