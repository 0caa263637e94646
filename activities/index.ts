/**
 * Every activity of the chain, created from its dependencies (factories, as in the Temporal samples).
 * Workflows import this module's *type* only. One factory per stage file in activities/.
 */
import { createBuildActivities } from './build';
import { type ActivityDeps } from './deps';
import { createDistributeActivities } from './distribute';
import { createReconcileActivities } from './reconcile';
import { createGateActivities } from './gate';
import { createLifecycleActivities } from './lifecycle';
import { createInventoryActivities } from './inventory';
import { keepAlive } from './keep-alive';
import { createScanActivities } from './scan';
import { createSignActivities } from './sign';
import { createSyncActivities } from './sync';

export function createActivities(deps: ActivityDeps) {
  const build = createBuildActivities(deps);
  const distribute = createDistributeActivities(deps);
  const sign = createSignActivities(deps);
  return {
    ...build,
    ...distribute,
    ...createReconcileActivities(deps),
    ...createGateActivities(deps),
    ...createLifecycleActivities(deps),
    ...createInventoryActivities(deps),
    ...createScanActivities(deps),
    ...sign,
    ...createSyncActivities(deps),
    // Short stages the chain runs with a 20 s heartbeat timeout, so a killed worker's attempt
    // resumes elsewhere within it (build, sign and distribute have no progress of their own to report).
    recordPushedImage: keepAlive(build.recordPushedImage),
    signImage: keepAlive(sign.signImage),
    promoteImage: keepAlive(distribute.promoteImage),
    notifySubscribers: keepAlive(distribute.notifySubscribers),
  };
}

export type ChainActivities = ReturnType<typeof createActivities>;
