import { IngestQueue } from '../src/ingest';
import { type ActivityDeps } from './deps';

const queues = new WeakMap<ActivityDeps, IngestQueue>();

/**
 * The ingestion queue the activities of one worker submit to (reconcile, unblocked and rebuilt
 * chains): one per worker, made on first use.
 */
export function ingestQueueOf(deps: ActivityDeps): IngestQueue {
  let queue = queues.get(deps);
  if (!queue) {
    queue = IngestQueue.fromConfig(deps.redis, deps.config.ingest);
    queues.set(deps, queue);
  }
  return queue;
}
