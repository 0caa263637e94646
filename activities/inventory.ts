import { type Config } from '../src/config';
import { InventoryStore, KubeApi, kubeApiSettings, ownerWorkloads, postImageVulnerableEvents } from '../src/inventory';
import { type Logger } from '../src/log';
import { type Redis } from 'ioredis';
import { activity } from './activity';

export interface InventoryDeps {
  config: Config;
  logger: Logger;
  redis: Redis;
}

export interface DeployedWorkloadsInput {
  digest: string;
  /** The new findings / violations of the denial, one line each (the Events' message). */
  findings: string[];
  /** Post ImageVulnerable Events on the workloads in this worker's cluster. */
  postEvents: boolean;
}

export interface DeployedWorkload {
  cluster: string;
  namespace: string;
  kind: string;
  name: string;
  pods: string[];
}

export interface DeployedWorkloadsResult {
  workloads: DeployedWorkload[];
  /** `namespace/Kind/name` of the workloads that got an ImageVulnerable Event. */
  events: string[];
}

/** Whether this worker can reach an API server to post Events: configured, or running in a cluster. */
function apiReachable(config: Config): boolean {
  return config.inventory.kubernetes !== undefined || process.env.KUBERNETES_SERVICE_HOST !== undefined;
}

/**
 * The inventory side of a rescan that turned a digest denied: the workloads that run it (every
 * cluster the inventory knows), and an ImageVulnerable Event on each of them in this worker's
 * cluster. Idempotent: Event names are derived from the workload, digest and workflow.
 */
export function createInventoryActivities(deps: InventoryDeps) {
  const store = new InventoryStore(deps.redis);
  let api: KubeApi | undefined;
  return {
    deployedWorkloads: activity(
      deps.logger,
      { subject: (i: DeployedWorkloadsInput) => i.digest, failure: 'deployed workloads not reported' },
      async (input, { log, workflowId }): Promise<DeployedWorkloadsResult> => {
        const records = await store.deployments(input.digest);
        const workloads = ownerWorkloads(records).map((w) => ({
          cluster: w.cluster,
          namespace: w.namespace,
          kind: w.owner.kind,
          name: w.owner.name,
          pods: w.pods,
        }));
        let events: string[] = [];
        if (input.postEvents && records.length && deps.config.inventory.events && apiReachable(deps.config)) {
          api ??= new KubeApi(kubeApiSettings(deps.config.inventory));
          events = await postImageVulnerableEvents(api, deps.config.inventory.cluster, records, {
            digest: input.digest,
            decisionId: workflowId,
            findings: input.findings,
          });
        }
        if (workloads.length)
          log.warn(
            { workloads: workloads.map((w) => `${w.cluster}/${w.namespace}/${w.kind}/${w.name}`), events: events.length },
            'rescan: a denied image is deployed',
          );
        return { workloads, events };
      },
    ),
  };
}
