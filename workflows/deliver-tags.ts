/**
 * deliverTags: the short path for a new tag of a digest whose chain already delivered it. No
 * rescan, no new signature: verify that the digest carries a valid signature by the chain's key
 * and that its latest gate decision still allows it, then copy the tags to every sync target,
 * promote, and notify subscribers. One run per digest at a time (`tags:<registry>/<repo>@<digest>`);
 * tags signalled while it runs are delivered before it completes.
 */
import { defineQuery, defineSignal, proxyActivities, setHandler, workflowInfo } from '@temporalio/workflow';
import type { ChainActivities } from '../activities';
import { type AddTagsSignal } from '../src/chain/input';
import { QUERIES, SIGNALS } from '../src/chain/names';
import { type TagDeliveryInput, type TagDeliveryStatus } from '../src/chain/status';

export const tagDeliverySignal = defineSignal<[AddTagsSignal]>(SIGNALS.addTags);
export const tagDeliveryQuery = defineQuery<TagDeliveryStatus>(QUERIES.status);

const RETRY = { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '1m', maximumAttempts: 8 } as const;
const checks = proxyActivities<ChainActivities>({ startToCloseTimeout: '2m', retry: RETRY });
const copying = proxyActivities<ChainActivities>({ startToCloseTimeout: '30m', heartbeatTimeout: '30s', retry: RETRY });
// Heartbeating (KEEP_ALIVE_MS, activities/activity.ts): a killed worker's promotion or notification resumes elsewhere within 20 s.
const distribute = proxyActivities<ChainActivities>({ startToCloseTimeout: '1m', heartbeatTimeout: '20s', retry: { ...RETRY, maximumAttempts: 12 } });

export async function deliverTags(input: TagDeliveryInput): Promise<TagDeliveryStatus> {
  const delivered = new Set<string>();
  const pending = new Set<string>(input.tags);
  setHandler(tagDeliverySignal, ({ tags }) => {
    for (const t of tags) if (!delivered.has(t)) pending.add(t);
  });
  const status = (): TagDeliveryStatus => ({ delivered: [...delivered].sort(), pending: [...pending].sort() });
  setHandler(tagDeliveryQuery, status);
  const image = { registry: input.registry, repository: input.repository, digest: input.digest };

  // Fails for good (VERIFICATION_FAILED / POLICY_DENIED) when the digest is not signed or no longer allowed.
  await checks.verifyDelivered(image);
  let promoted = false;
  while (pending.size > 0) {
    const tags = [...pending].sort();
    pending.clear();
    await copying.syncImage({ sourceRegistry: image.registry, repository: image.repository, digest: image.digest, tags });
    for (const t of tags) delivered.add(t);
    if (!promoted) {
      await distribute.promoteImage({ ...image, at: workflowInfo().runStartTime.toISOString() });
      promoted = true;
    }
    await distribute.notifySubscribers({ ...image, event: 'tagged', scope: tags.join(','), payload: { tags } });
  }
  return status();
}
