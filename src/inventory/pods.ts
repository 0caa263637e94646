/**
 * From a Pod object to what the inventory records: the digests it runs (image references by digest,
 * and the digests the kubelet reports once containers started) and its top owner workload
 * (Pod → ReplicaSet → Deployment, Pod → Job → CronJob, or the first controller found).
 */
import { z } from 'zod';
import { type KubeApi, KubeApiError } from './kube-api';
import { type Owner, type PodImages } from './store';

const ownerRefSchema = z.object({ apiVersion: z.string(), kind: z.string(), name: z.string(), uid: z.string(), controller: z.boolean().optional() });
const metaSchema = z.object({ name: z.string(), namespace: z.string().optional(), uid: z.string(), ownerReferences: z.array(ownerRefSchema).optional() });
const containerSchema = z.object({ name: z.string(), image: z.string().optional() });
const statusSchema = z.object({ name: z.string(), imageID: z.string().optional() });

export const podSchema = z.object({
  metadata: metaSchema.extend({ namespace: z.string(), resourceVersion: z.string().optional() }),
  spec: z.object({
    containers: z.array(containerSchema),
    initContainers: z.array(containerSchema).optional(),
    ephemeralContainers: z.array(containerSchema).optional(),
  }),
  status: z
    .object({
      containerStatuses: z.array(statusSchema).optional(),
      initContainerStatuses: z.array(statusSchema).optional(),
    })
    .optional(),
});
export type Pod = z.infer<typeof podSchema>;

const ownedObjectSchema = z.object({ metadata: metaSchema });

const DIGEST = /@(sha256:[0-9a-f]{64})$/;

/** digest → names of the containers that run it. Tags the kubelet has not resolved yet give none. */
export function podDigests(pod: Pod): Map<string, string[]> {
  const digests = new Map<string, string[]>();
  const add = (digest: string, container: string) => {
    const names = digests.get(digest) ?? [];
    if (!names.includes(container)) names.push(container);
    digests.set(digest, names);
  };
  for (const c of [...pod.spec.containers, ...(pod.spec.initContainers ?? []), ...(pod.spec.ephemeralContainers ?? [])]) {
    const m = c.image ? DIGEST.exec(c.image) : null;
    if (m) add(m[1] as string, c.name);
  }
  for (const s of [...(pod.status?.containerStatuses ?? []), ...(pod.status?.initContainerStatuses ?? [])]) {
    const m = s.imageID ? DIGEST.exec(s.imageID) : null;
    if (m) add(m[1] as string, s.name);
  }
  return digests;
}

/** Where the API lists an owner kind (the ones whose own owner is worth following). */
const OWNER_PATHS: Record<string, (ns: string, name: string) => string> = {
  ReplicaSet: (ns, name) => `/apis/apps/v1/namespaces/${ns}/replicasets/${name}`,
  Job: (ns, name) => `/apis/batch/v1/namespaces/${ns}/jobs/${name}`,
};

/** Resolves owners with a small cache by uid (ReplicaSets and Jobs do not change owner). */
export class OwnerResolver {
  private readonly cache = new Map<string, Owner>();

  constructor(private readonly api: KubeApi) {}

  async topOwner(pod: Pod): Promise<Owner> {
    const self: Owner = { apiVersion: 'v1', kind: 'Pod', name: pod.metadata.name, uid: pod.metadata.uid };
    const ref = controllerOf(pod.metadata.ownerReferences);
    if (!ref) return self;
    const direct: Owner = { apiVersion: ref.apiVersion, kind: ref.kind, name: ref.name, uid: ref.uid };
    const path = OWNER_PATHS[ref.kind];
    if (!path) return direct;
    const cached = this.cache.get(ref.uid);
    if (cached) return cached;
    let owner = direct;
    try {
      const parent = ownedObjectSchema.parse(await this.api.call('GET', path(pod.metadata.namespace, ref.name)));
      const up = controllerOf(parent.metadata.ownerReferences);
      if (up) owner = { apiVersion: up.apiVersion, kind: up.kind, name: up.name, uid: up.uid };
    } catch (err) {
      // Already deleted (a Job cleaned up): the direct owner is what is left to name.
      if (!(err instanceof KubeApiError && err.status === 404)) throw err;
    }
    this.cache.set(ref.uid, owner);
    return owner;
  }
}

function controllerOf(refs: Array<z.infer<typeof ownerRefSchema>> | undefined) {
  return refs?.find((r) => r.controller) ?? refs?.[0];
}

export async function podImages(cluster: string, pod: Pod, owners: OwnerResolver): Promise<PodImages> {
  return { cluster, namespace: pod.metadata.namespace, pod: pod.metadata.name, owner: await owners.topOwner(pod), digests: podDigests(pod) };
}
