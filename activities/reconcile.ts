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
      try {
        const source = deps.config.sources.find((s) => s.name === sourceName);
        if (!source) throw new ChainError('BAD_INPUT', `no webhook source named "${sourceName}"`);
        const summary = await reconcileSource({
          source,
          ingest: deps.config.ingest,
          reader: deps.registry(source.registry),
          submit: (event) => ingestQueue().submit(event),
          onProgress: (done, total) => Context.current().heartbeat({ done, total }),
        });
        deps.logger.info(summary, 'reconciliation finished');
        return summary;
      } catch (err) {
        return toActivityFailure(err);
      }
    },
  };
}

export type ReconcileActivities = ReturnType<typeof createReconcileActivities>;
