/**
 * The pod watcher: lists every pod, records its digests, removes pods the inventory knew but the
 * list no longer has, then watches from the list's resourceVersion. A watch that ends (server
 * timeout) is resumed from the last version seen; a watch whose version expired (410 Gone, as an
 * HTTP status or an ERROR event) starts over with a full list, so nothing deleted in between stays.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { z } from 'zod';
import { type Logger } from '../log';
import { type KubeApi, KubeApiError } from './kube-api';
import { OwnerResolver, podImages, podSchema } from './pods';
import { type InventoryStore } from './store';

const listSchema = z.object({ metadata: z.object({ resourceVersion: z.string() }), items: z.array(z.unknown()) });
const eventSchema = z.object({ type: z.enum(['ADDED', 'MODIFIED', 'DELETED', 'BOOKMARK', 'ERROR']), object: z.record(z.string(), z.unknown()) });

export interface WatcherOptions {
  cluster: string;
  api: KubeApi;
  store: InventoryStore;
  logger: Logger;
  /** Server-side watch timeout; the watch is then resumed (default 300 s). */
  watchTimeoutSeconds?: number;
  /** Called after each full list (tests wait on it). */
  onSynced?: (info: { pods: number; removed: number; resourceVersion: string }) => void;
}

class Gone extends Error {}

export async function watchPods(options: WatcherOptions, signal: AbortSignal): Promise<void> {
  const { api, store, cluster, logger } = options;
  const owners = new OwnerResolver(api);
  let failures = 0;
  while (!signal.aborted) {
    try {
      let version = await resync();
      failures = 0;
      // Resume from the last version seen until the version expires.
      while (!signal.aborted) {
        const path = `/api/v1/pods?watch=1&allowWatchBookmarks=true&timeoutSeconds=${options.watchTimeoutSeconds ?? 300}&resourceVersion=${encodeURIComponent(version)}`;
        await api.watch(
          path,
          async (raw) => {
            const event = eventSchema.parse(raw);
            if (event.type === 'ERROR') {
              const code = (event.object as { code?: number }).code;
              if (code === 410) throw new Gone('watch expired');
              throw new KubeApiError(code ?? 500, `Kubernetes API watch error: ${String((event.object as { message?: string }).message)}`);
            }
            const rv = z.object({ metadata: z.object({ resourceVersion: z.string() }) }).safeParse(event.object);
            if (event.type === 'BOOKMARK') {
              if (rv.success) version = rv.data.metadata.resourceVersion;
              return;
            }
            const pod = podSchema.parse(event.object);
            if (event.type === 'DELETED') await store.remove(cluster, pod.metadata.namespace, pod.metadata.name);
            else await store.upsert(await podImages(cluster, pod, owners));
            if (pod.metadata.resourceVersion) version = pod.metadata.resourceVersion;
          },
          signal,
        );
      }
    } catch (err) {
      if (signal.aborted) break;
      if (err instanceof Gone || (err instanceof KubeApiError && err.status === 410)) {
        logger.info({ cluster }, 'inventory: pod watch expired (410 Gone); listing again');
        continue;
      }
      failures++;
      const waitMs = Math.min(30_000, 500 * 2 ** Math.min(failures, 6));
      logger.warn({ cluster, err: (err as Error).message, retryInMs: waitMs }, 'inventory: pod list/watch failed; retrying');
      await delay(waitMs, undefined, { signal }).catch(() => undefined);
    }
  }

  async function resync(): Promise<string> {
    const list = listSchema.parse(await api.call('GET', '/api/v1/pods'));
    const listed = new Set<string>();
    for (const item of list.items) {
      const pod = podSchema.parse(item);
      listed.add(`${pod.metadata.namespace}/${pod.metadata.name}`);
      await store.upsert(await podImages(cluster, pod, owners));
    }
    const removed = await store.retainOnly(cluster, listed);
    logger.info({ cluster, pods: listed.size, removed, resourceVersion: list.metadata.resourceVersion }, 'inventory: pods listed');
    options.onSynced?.({ pods: listed.size, removed, resourceVersion: list.metadata.resourceVersion });
    return list.metadata.resourceVersion;
  }
}
