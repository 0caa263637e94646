/**
 * `ImageVulnerable` Events on the workloads that run a digest a rescan turned denied, so
 * `kubectl describe deployment/…` and `kubectl get events` show it where the owners look. Event
 * names are derived from the workload, the digest and the decision, so a retried activity
 * re-posts the same Event (409 AlreadyExists counts as done) instead of adding another.
 */
import { createHash } from 'node:crypto';
import { type KubeApi, KubeApiError } from './kube-api';
import { type DeploymentRecord, ownerWorkloads } from './store';

export interface VulnerableImage {
  digest: string;
  /** Identifies the decision (e.g. the rescan's workflow id): one Event per workload and decision. */
  decisionId: string;
  /** The new findings / violations, one line each. */
  findings: string[];
}

/** Longest Event message the API server keeps without truncating (it limits it to 1 KiB for events.k8s.io). */
const MAX_MESSAGE = 1024;

export function eventMessage(image: VulnerableImage): string {
  const head = `image ${image.digest} is now denied by policy; replace it: `;
  let message = head + image.findings.join('; ');
  if (message.length > MAX_MESSAGE) message = `${message.slice(0, MAX_MESSAGE - 1)}…`;
  return message;
}

/** Posts one Warning Event per owner workload of `records` in `cluster`; returns the workloads told. */
export async function postImageVulnerableEvents(
  api: KubeApi,
  cluster: string,
  records: DeploymentRecord[],
  image: VulnerableImage,
  now = new Date(),
): Promise<string[]> {
  const told: string[] = [];
  for (const w of ownerWorkloads(records.filter((r) => r.cluster === cluster))) {
    const id = createHash('sha256').update(`${w.owner.uid}\n${image.digest}\n${image.decisionId}`).digest('hex').slice(0, 16);
    const name = `${w.owner.name.slice(0, 200)}.imagevulnerable.${id}`;
    const event = {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name, namespace: w.namespace },
      involvedObject: { apiVersion: w.owner.apiVersion, kind: w.owner.kind, name: w.owner.name, namespace: w.namespace, uid: w.owner.uid },
      reason: 'ImageVulnerable',
      type: 'Warning',
      message: eventMessage(image),
      source: { component: 'delivery-chain' },
      reportingComponent: 'delivery-chain',
      reportingInstance: 'rescan',
      firstTimestamp: now.toISOString().replace(/\.\d+Z$/, 'Z'),
      lastTimestamp: now.toISOString().replace(/\.\d+Z$/, 'Z'),
      count: 1,
    };
    try {
      await api.call('POST', `/api/v1/namespaces/${encodeURIComponent(w.namespace)}/events`, event);
    } catch (err) {
      if (!(err instanceof KubeApiError && err.status === 409)) throw err;
    }
    told.push(`${w.namespace}/${w.owner.kind}/${w.owner.name}`);
  }
  return told;
}
