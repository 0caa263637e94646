import { ChainError } from '../src/errors';
import { reconcileSource, type ReconcileSummary } from '../src/ingest';
import { type ActivityDeps } from './deps';
import { ingestQueueOf } from './ingest-queue';
import { activity } from './activity';

export type { ReconcileSummary } from '../src/ingest';

/** Activities of the `reconcile` workflow: list each source registry and queue digests whose notification was lost. */
export function createReconcileActivities(deps: ActivityDeps) {
  return {
    /** Names of the webhook sources whose registries are reconciled. */
    async listReconcileSources(): Promise<string[]> {
      return deps.config.sources.map((s) => s.name);
    },

    // Progress beats after each repository; a large one (thousands of tags) takes longer, so the
    // keep-alive beats too: the 30 s heartbeat timeout then only fires when the worker is gone.
    reconcileSource: activity(deps.logger, { keepAliveMs: 10_000 }, async (sourceName: string, { log, heartbeat }): Promise<ReconcileSummary> => {
      const source = deps.config.sources.find((s) => s.name === sourceName);
      if (!source) throw new ChainError('BAD_INPUT', `no webhook source named "${sourceName}"`);
      heartbeat({ done: 0, total: 0 });
      const summary = await reconcileSource({
        source,
        ingest: deps.config.ingest,
        reader: deps.registry(source.registry),
        submit: (event) => ingestQueueOf(deps).submit(event),
        onProgress: (done, total) => heartbeat({ done, total }),
      });
      log.info(summary, 'reconciliation finished');
      return summary;
    }),
  };
}

export type ReconcileActivities = ReturnType<typeof createReconcileActivities>;
