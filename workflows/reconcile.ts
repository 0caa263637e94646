import { proxyActivities } from '@temporalio/workflow';
import type { ReconcileActivities, ReconcileSummary } from '../activities/reconcile';

const { listReconcileSources, reconcileSource } = proxyActivities<ReconcileActivities>({
  startToCloseTimeout: '30m',
  // The activity heartbeats every 10 s at least: a killed worker's reconcile resumes elsewhere within 30 s.
  heartbeatTimeout: '30s',
  retry: { initialInterval: '5s', backoffCoefficient: 2, maximumInterval: '2m', maximumAttempts: 5 },
});

/** `reconcile` (run by the reconcile schedule): catch up on pushes whose notifications the registries lost. */
export async function reconcile(): Promise<ReconcileSummary[]> {
  const summaries: ReconcileSummary[] = [];
  // One source at a time: they usually share a registry, and the second pass then finds everything known.
  for (const source of await listReconcileSources()) summaries.push(await reconcileSource(source));
  return summaries;
}
