import { type Logger } from '../../log';
import { type RegistryClient } from '../client';
import { copyImage, type CopyResult } from './copy-image';
import { type CopyProgress } from './progress';
import { mapRepository, type RepositoryMapping } from './repository-mapping';

export interface SyncTarget {
  /** Configured name of the target registry. */
  registry: string;
  client: RegistryClient;
  mapping: RepositoryMapping;
}

export interface SyncTargetResult extends CopyResult {
  registry: string;
  repository: string;
}

export interface SyncProgress {
  /** Targets finished so far (a retried sync skips them). */
  completed: SyncTargetResult[];
  current?: { registry: string; repository: string; progress: CopyProgress };
}

export interface SyncRequest {
  sourceRegistry: string;
  source: RegistryClient;
  repository: string;
  digest: string;
  tags?: string[];
  targets: SyncTarget[];
  /** Results of targets an earlier attempt finished. */
  completed?: SyncTargetResult[];
  concurrency?: number;
  onProgress?: (progress: SyncProgress) => void;
  signal?: AbortSignal;
  logger?: Logger;
}

/**
 * Replicates one image to every sync target in turn (repository mapped per target). Targets an
 * earlier attempt completed are not visited again; a target that is the source itself is skipped.
 */
export async function syncToTargets(req: SyncRequest): Promise<SyncTargetResult[]> {
  const completed = [...(req.completed ?? [])];
  for (const target of req.targets) {
    const repository = mapRepository(req.repository, target.mapping);
    if (completed.some((c) => c.registry === target.registry && c.repository === repository)) continue;
    if (target.registry === req.sourceRegistry && repository === req.repository) continue;
    const log = req.logger?.child({ target: target.registry, repository });
    const result = await copyImage({
      source: req.source,
      sourceRepo: req.repository,
      target: target.client,
      targetRepo: repository,
      digest: req.digest,
      ...(req.tags ? { tags: req.tags } : {}),
      ...(req.concurrency ? { concurrency: req.concurrency } : {}),
      ...(req.signal ? { signal: req.signal } : {}),
      ...(log ? { logger: log } : {}),
      onProgress: (progress) => req.onProgress?.({ completed, current: { registry: target.registry, repository, progress } }),
    });
    log?.info(
      {
        blobsCopied: result.blobsCopied,
        blobsMounted: result.blobsMounted,
        blobsPresent: result.blobsPresent,
        bytesCopied: result.bytesCopied,
        artifacts: result.artifacts.length,
      },
      'image synced',
    );
    completed.push({ ...result, registry: target.registry, repository });
    req.onProgress?.({ completed });
  }
  return completed;
}
