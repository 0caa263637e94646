/**
 * Every activity of the chain, created from its dependencies (factories, as in the Temporal samples).
 * Workflows import this module's *type* only. One factory per stage file in activities/.
 */
import { createBuildActivities } from './build';
import { type ActivityDeps } from './deps';
import { createDistributeActivities } from './distribute';
import { createReconcileActivities } from './reconcile';
import { createRescanActivities } from './rescan';
import { createRescanBatchActivities } from './rescan-batch';
import { createGateActivities } from './gate';
import { createLifecycleActivities } from './lifecycle';
import { createInventoryActivities } from './inventory';
import { createScanActivities } from './scan';
import { createSignActivities } from './sign';
import { createSyncActivities } from './sync';

export function createActivities(deps: ActivityDeps) {
  return {
    ...createBuildActivities(deps),
    ...createDistributeActivities(deps),
    ...createReconcileActivities(deps),
    ...createRescanActivities(deps),
    ...createRescanBatchActivities(deps),
    ...createGateActivities(deps),
    ...createLifecycleActivities(deps),
    ...createInventoryActivities(deps),
    ...createScanActivities(deps),
    ...createSignActivities(deps),
    ...createSyncActivities(deps),
  };
}

export type ChainActivities = ReturnType<typeof createActivities>;
