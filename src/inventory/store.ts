/**
 * The inventory in Redis: which pods run a digest. Keys:
 * - `dchain:inventory:digest:<digest>`: hash, field `<cluster>/<namespace>/<pod>` → a deployment record (JSON);
 * - `dchain:inventory:pod:<cluster>/<namespace>/<pod>`: set of the pod's digests (to remove them when it goes);
 * - `dchain:inventory:pods:<cluster>`: set of the cluster's pod keys (a resync removes the ones no longer listed).
 */
import { type Redis } from 'ioredis';
import { z } from 'zod';

export const ownerSchema = z.strictObject({
  apiVersion: z.string(),
  kind: z.string(),
  name: z.string(),
  uid: z.string(),
});
export type Owner = z.infer<typeof ownerSchema>;

export const deploymentRecordSchema = z.strictObject({
  cluster: z.string(),
  namespace: z.string(),
  pod: z.string(),
  containers: z.array(z.string()),
  /** The top workload: Deployment (through its ReplicaSet), CronJob (through its Job), StatefulSet…, or the Pod itself. */
  owner: ownerSchema,
  firstSeen: z.iso.datetime(),
  lastSeen: z.iso.datetime(),
});
export type DeploymentRecord = z.infer<typeof deploymentRecordSchema>;

/** One pod as the watcher sees it: its digests and the containers that run each. */
export interface PodImages {
  cluster: string;
  namespace: string;
  pod: string;
  owner: Owner;
  /** digest → container names */
  digests: Map<string, string[]>;
}

const digestKey = (digest: string) => `dchain:inventory:digest:${digest}`;
const podKey = (id: string) => `dchain:inventory:pod:${id}`;
const clusterKey = (cluster: string) => `dchain:inventory:pods:${cluster}`;
const podId = (cluster: string, namespace: string, pod: string) => `${cluster}/${namespace}/${pod}`;

export class InventoryStore {
  constructor(private readonly redis: Redis) {}

  /** Records (or refreshes) a pod's digests: first seen kept, last seen now; digests it no longer runs removed. */
  async upsert(pod: PodImages, now = new Date()): Promise<void> {
    const id = podId(pod.cluster, pod.namespace, pod.pod);
    const before = new Set(await this.redis.smembers(podKey(id)));
    const tx = this.redis.multi();
    for (const [digest, containers] of pod.digests) {
      const old = await this.redis.hget(digestKey(digest), id);
      const firstSeen = old ? (deploymentRecordSchema.safeParse(JSON.parse(old)).data?.firstSeen ?? now.toISOString()) : now.toISOString();
      const record: DeploymentRecord = {
        cluster: pod.cluster,
        namespace: pod.namespace,
        pod: pod.pod,
        containers,
        owner: pod.owner,
        firstSeen,
        lastSeen: now.toISOString(),
      };
      tx.hset(digestKey(digest), id, JSON.stringify(record));
      before.delete(digest);
    }
    for (const gone of before) tx.hdel(digestKey(gone), id);
    tx.del(podKey(id));
    if (pod.digests.size) tx.sadd(podKey(id), ...pod.digests.keys());
    tx.sadd(clusterKey(pod.cluster), id);
    await tx.exec();
  }

  /** Forgets a pod (deleted, or gone at a resync). */
  async remove(cluster: string, namespace: string, pod: string): Promise<void> {
    await this.removeId(podId(cluster, namespace, pod));
  }

  private async removeId(id: string): Promise<void> {
    const digests = await this.redis.smembers(podKey(id));
    const tx = this.redis.multi();
    for (const digest of digests) tx.hdel(digestKey(digest), id);
    tx.del(podKey(id));
    tx.srem(clusterKey(id.split('/')[0] as string), id);
    await tx.exec();
  }

  /** After a full list: removes the cluster's pods that the list did not have. Returns how many. */
  async retainOnly(cluster: string, listed: ReadonlySet<string>): Promise<number> {
    const known = await this.redis.smembers(clusterKey(cluster));
    let removed = 0;
    for (const id of known) {
      const [, namespace, pod] = id.split('/');
      if (listed.has(`${namespace}/${pod}`)) continue;
      await this.removeId(id);
      removed++;
    }
    return removed;
  }

  /** Where a digest runs, in every cluster, sorted by cluster, namespace and pod. */
  async deployments(digest: string): Promise<DeploymentRecord[]> {
    const all = await this.redis.hgetall(digestKey(digest));
    return Object.keys(all)
      .sort()
      .map((k) => deploymentRecordSchema.parse(JSON.parse(all[k] as string)));
  }
}

/** The distinct owner workloads of some deployment records (one per cluster + namespace + owner). */
export function ownerWorkloads(records: DeploymentRecord[]): Array<{ cluster: string; namespace: string; owner: Owner; pods: string[] }> {
  const byOwner = new Map<string, { cluster: string; namespace: string; owner: Owner; pods: string[] }>();
  for (const r of records) {
    const key = `${r.cluster}/${r.namespace}/${r.owner.kind}/${r.owner.name}`;
    const entry = byOwner.get(key) ?? { cluster: r.cluster, namespace: r.namespace, owner: r.owner, pods: [] };
    entry.pods.push(r.pod);
    byOwner.set(key, entry);
  }
  return [...byOwner.values()];
}
