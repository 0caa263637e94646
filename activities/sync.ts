import { z } from 'zod';
import { RegistryDirectory, sha256DigestSchema, SYNC_USER_AGENT, type SyncProgress, type SyncTargetResult, syncToTargets } from '../src/registry';
import { activity } from './activity';
import { type ActivityDeps } from './deps';

export interface SyncResult {
  digest: string;
  targets: SyncTargetResult[];
}

const inputSchema = z.strictObject({
  sourceRegistry: z.string().min(1),
  repository: z.string().min(1),
  digest: sha256DigestSchema(),
  tags: z.array(z.string().min(1)).optional(),
});

const count = z.number().int().nonnegative();
/** What an earlier attempt heartbeated: the targets it finished, with their results. */
const progressSchema = z.object({
  completed: z.array(
    z.object({
      registry: z.string(),
      repository: z.string(),
      digest: z.string(),
      blobsCopied: count,
      blobsMounted: count,
      blobsPresent: count,
      bytesCopied: count,
      manifestsPushed: count,
      manifestsPresent: count,
      artifacts: z.array(z.string()),
    }),
  ),
});

/** The sync stage: replicate an image, digest for digest, to every `sync.targets` registry. */
export function createSyncActivities(deps: Pick<ActivityDeps, 'config' | 'logger'>) {
  // Clients of their own: every push carries the sync user agent so ingestion ignores it.
  const registries = new RegistryDirectory(deps.config.registries, { userAgent: SYNC_USER_AGENT, logger: deps.logger });

  return {
    syncImage: activity(
      deps.logger,
      { input: inputSchema, subject: (i) => i.digest },
      async ({ sourceRegistry, repository, digest, tags }, { log, heartbeat, signal, resumed }): Promise<SyncResult> => {
        const source = registries.get(sourceRegistry);
        const targets = deps.config.sync.targets.map((t) => {
          const reg = registries.get(t.registry);
          return { registry: reg.name, client: registries.client(reg.name), mapping: { repositoryPrefix: t.repositoryPrefix, replace: t.replace } };
        });
        // A retry after a crash or timeout resumes after the targets the last attempt reported done.
        const completed = progressSchema.safeParse(resumed);
        const results = await syncToTargets({
          sourceRegistry: source.name,
          source: registries.client(source.name),
          repository,
          digest,
          ...(tags ? { tags } : {}),
          targets,
          ...(completed.success ? { completed: completed.data.completed } : {}),
          onProgress: (progress: SyncProgress) => heartbeat(progress),
          signal,
          logger: log.child({ repository }),
        });
        return { digest, targets: results };
      },
    ),
  };
}
