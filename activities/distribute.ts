import { expandPromotionTags, NotificationLog, notifySubscriber } from '../src/distribute';
import { type FetchedManifest, mapRepository } from '../src/registry';
import { activity, KEEP_ALIVE_MS } from './activity';
import { type ImageRef } from './build';
import { type ActivityDeps } from './deps';

export interface PromoteInput extends ImageRef {
  /** ISO time that expands `{date}` in the configured promotion tags (the run's start). */
  at: string;
}

export interface Promotion {
  registry: string;
  repository: string;
  tag: string;
  /** false when the tag already pointed at the digest (a retry). */
  changed: boolean;
}

/** A chain's outcome, new tags delivered for a digest, or a change of an image's verdict found by the rescan. */
export type NotificationEvent = 'distributed' | 'denied' | 'tagged' | 'rescan.denied' | 'rescan.allowed';

export interface NotifyInput extends ImageRef {
  event: NotificationEvent;
  payload: Record<string, unknown>;
  /**
   * Tells apart notifications of one event within one workflow (the rescan passes the digest:
   * it notifies about many images). Part of the delivery id, which makes retries idempotent.
   */
  scope?: string;
}

export function createDistributeActivities(deps: ActivityDeps) {
  const notifications = new NotificationLog(deps.redis);
  return {
    /**
     * Points the promotion tags at the digest in every sync target (or in the source registry when
     * there is none). Idempotent: a tag that already names the digest is left alone.
     */
    promoteImage: activity(
      deps.logger,
      { subject: (i: PromoteInput) => i.digest, keepAliveMs: KEEP_ALIVE_MS, failure: 'promotion failed' },
      async (input, { log }): Promise<Promotion[]> => {
        const targets = deps.config.sync.targets.length
          ? deps.config.sync.targets.map((t) => ({ registry: t.registry, repository: mapRepository(input.repository, t) }))
          : [{ registry: input.registry, repository: input.repository }];
        const done: Promotion[] = [];
        const tags = expandPromotionTags(deps.config.distribute.promoteTags, new Date(input.at));
        for (const target of targets) {
          const client = deps.registry(target.registry);
          // Fetched only when a tag must move: a retry whose tags are all in place reads nothing.
          let manifest: FetchedManifest | undefined;
          for (const tag of tags) {
            const current = await client.headManifest(target.repository, tag);
            const changed = current?.digest !== input.digest;
            if (changed) {
              manifest ??= await client.getManifest(target.repository, input.digest);
              await client.putManifest(target.repository, tag, manifest.bytes, manifest.mediaType);
            }
            done.push({ ...target, tag, changed });
          }
        }
        log.info({ promotions: done }, 'image promoted');
        return done;
      },
    ),

    /** Signed notification to every subscriber, at most once each per workflow, event (and scope). */
    notifySubscribers: activity(
      deps.logger,
      { subject: (i: NotifyInput) => i.digest, keepAliveMs: KEEP_ALIVE_MS, failure: 'notification failed' },
      async (input, { log, workflowId, attempt }): Promise<Array<{ subscriber: string; outcome: string }>> => {
        const results: Array<{ subscriber: string; outcome: string }> = [];
        for (const subscriber of deps.config.distribute.subscribers) {
          const outcome = await notifySubscriber(
            subscriber,
            {
              id: [workflowId, input.event, ...(input.scope === undefined ? [] : [input.scope]), subscriber.name].join('/'),
              workflowId,
              digest: input.digest,
              event: input.event,
              payload: { registry: input.registry, repository: input.repository, ...input.payload },
              attempt,
            },
            notifications,
          );
          results.push({ subscriber: subscriber.name, outcome });
        }
        log.info({ results }, 'subscribers notified');
        return results;
      },
    ),
  };
}
