import pLimit from 'p-limit';
import { type IngestConfig, type WebhookSourceConfig } from '../config';
import { createEventFilter } from './filter';
import { type PushNotice } from './formats/push-notice';
import { type ImagePushed } from '../chain';
import { isQueued, type SubmitResult } from './queue';

/** The part of the registry client reconciliation reads with. */
export interface CatalogReader {
  catalog(): Promise<string[]>;
  listTags(repo: string): Promise<string[]>;
  headManifest(repo: string, reference: string): Promise<{ digest: string; mediaType: string; size: number } | undefined>;
}

export interface ReconcileSummary {
  source: string;
  repositories: number;
  tags: number;
  /** Image digests the registry holds that pass the source's filters. */
  digests: number;
  /** Digests (or new tags of digests) queued: their notification was lost, or their last chain failed and may run again. */
  queued: number;
  /** Digests already known to the queue (running, delivered, blocked, or failed too often). */
  known: number;
}

export interface ReconcileOptions {
  source: WebhookSourceConfig;
  ingest: IngestConfig;
  reader: CatalogReader;
  submit: (event: ImagePushed) => Promise<SubmitResult>;
  /** Called after each repository (activities heartbeat here). */
  onProgress?: (done: number, total: number) => void;
  concurrency?: number;
  now?: Date;
}

/**
 * The safety net for lost notifications: lists the source registry's catalog and tags and queues
 * every image digest the queue has not seen, as if its push had been notified; a digest whose last
 * chain failed is queued again under the lifecycle rules (backoff, cap). The queue's digest
 * deduplication and the chain's fixed workflow id keep this idempotent.
 */
export async function reconcileSource(options: ReconcileOptions): Promise<ReconcileSummary> {
  const { source, reader } = options;
  const filter = createEventFilter(source, options.ingest);
  const limit = pLimit(options.concurrency ?? 8);
  const pushedAt = (options.now ?? new Date()).toISOString();
  const summary: ReconcileSummary = { source: source.name, repositories: 0, tags: 0, digests: 0, queued: 0, known: 0 };
  const repositories = await reader.catalog();
  summary.repositories = repositories.length;
  let done = 0;
  for (const repository of repositories) {
    const tags = await reader.listTags(repository);
    summary.tags += tags.length;
    const heads = await Promise.all(tags.map((tag) => limit(async () => ({ tag, head: await reader.headManifest(repository, tag) }))));
    const byDigest = new Map<string, { mediaType: string; tags: string[] }>();
    for (const { tag, head } of heads) {
      if (!head) continue; // deleted since the listing
      const entry = byDigest.get(head.digest) ?? { mediaType: head.mediaType, tags: [] };
      entry.tags.push(tag);
      byDigest.set(head.digest, entry);
    }
    const accepted = [...byDigest].flatMap(([digest, { mediaType, tags: digestTags }]) => {
      const notice: PushNotice = { action: 'push', target: 'manifest', repository, digest, tags: digestTags.sort(), mediaType, pushedAt };
      const verdict = filter(notice, `reconcile:${source.name}`);
      return 'accept' in verdict ? [verdict.accept] : [];
    });
    // Submitted together, so the queue commits them in shared batches.
    for (const result of await Promise.all(accepted.map((event) => options.submit(event)))) {
      summary.digests++;
      if (isQueued(result.outcome)) summary.queued++;
      else summary.known++;
    }
    options.onProgress?.(++done, repositories.length);
  }
  return summary;
}
