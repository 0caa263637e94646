import { Context } from '@temporalio/activity';
import { ChainError } from '../src/errors/chain-error';
import { IngestQueue, reconcileSource, type ReconcileSummary } from '../src/ingest';
import { type ActivityDeps } from './deps';
import { toActivityFailure } from './errors';

export type { ReconcileSummary } from '../src/ingest';

/** Activities of the `reconcile` workflow: list each source registry and queue digests whose notification was lost. */
export function createReconcileActivities(deps: ActivityDeps) {
  let queue: IngestQueue | undefined;
  const ingestQueue = () => (queue ??= IngestQueue.fromConfig(deps.redis, deps.config.ingest));
  return {
    /** Names of the webhook sources whose registries are reconciled. */
    async listReconcileSources(): Promise<string[]> {
      return deps.config.sources.map((s) => s.name);
    },

    async reconcileSource(sourceName: string): Promise<ReconcileSummary> {
      // Progress beats after each repository; a large one (thousands of tags) takes longer, so a
      // timer keeps beating: the 30 s heartbeat timeout then only fires when the worker is gone.
      const ctx = Context.current();
      let progress = { done: 0, total: 0 };
      const alive = setInterval(() => ctx.heartbeat(progress), 10_000);
      try {
        const source = deps.config.sources.find((s) => s.name === sourceName);
        if (!source) throw new ChainError('BAD_INPUT', `no webhook source named "${sourceName}"`);
        const summary = await reconcileSource({
          source,
          ingest: deps.config.ingest,
          reader: deps.registry(source.registry),
          submit: (event) => ingestQueue().submit(event),
          onProgress: (done, total) => {
            progress = { done, total };
            ctx.heartbeat(progress);
          },
        });
        deps.logger.info(summary, 'reconciliation finished');
        return summary;
      } catch (err) {
        return toActivityFailure(err);
      } finally {
        clearInterval(alive);
      }
    },
  };
}

export type ReconcileActivities = ReturnType<typeof createReconcileActivities>;
