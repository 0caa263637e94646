import { Context } from '@temporalio/activity';
import { z } from 'zod';
import { type RegistryConfig } from '../src/config/schema';
import { ChainError } from '../src/errors/chain-error';
import { RegistryClient, sha256DigestSchema, SYNC_USER_AGENT } from '../src/registry';
import { syncToTargets, type SyncProgress, type SyncTargetResult } from '../src/registry/copy';
import { type ActivityDeps } from './deps';
import { toActivityFailure } from './errors';

export interface SyncInput {
  /** Configured name (or host:port) of the registry the image was pushed to. */
  sourceRegistry: string;
  repository: string;
  digest: string;
  /** Tags to set on every target too. */
  tags?: string[];
}

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
  const clients = new Map<string, RegistryClient>();
  const clientFor = (reg: RegistryConfig): RegistryClient => {
    let client = clients.get(reg.name);
    if (!client) {
      client = RegistryClient.fromConfig(reg, { userAgent: SYNC_USER_AGENT, logger: deps.logger });
      clients.set(reg.name, client);
    }
    return client;
  };
  const registryNamed = (nameOrHost: string): RegistryConfig => {
    const reg = deps.config.registries.find((r) => r.name === nameOrHost) ?? deps.config.registries.find((r) => new URL(r.url).host === nameOrHost);
    if (!reg) throw new ChainError('CONFIG_INVALID', `no registry named "${nameOrHost}" in the configuration`);
    return reg;
  };

  return {
    async syncImage(input: SyncInput): Promise<SyncResult> {
      const ctx = Context.current();
      try {
        const parsed = inputSchema.safeParse(input);
        if (!parsed.success) throw new ChainError('BAD_INPUT', `sync input is invalid: ${z.prettifyError(parsed.error).replace(/\n/g, '; ')}`);
        const { sourceRegistry, repository, digest, tags } = parsed.data;
        const source = registryNamed(sourceRegistry);
        const targets = deps.config.sync.targets.map((t) => {
          const reg = registryNamed(t.registry);
          return { registry: reg.name, client: clientFor(reg), mapping: { repositoryPrefix: t.repositoryPrefix, replace: t.replace } };
        });
        // A retry after a crash or timeout resumes after the targets the last attempt reported done.
        const resumed = progressSchema.safeParse(ctx.info.heartbeatDetails);
        const results = await syncToTargets({
          sourceRegistry: source.name,
          source: clientFor(source),
          repository,
          digest,
          ...(tags ? { tags } : {}),
          targets,
          ...(resumed.success ? { completed: resumed.data.completed } : {}),
          onProgress: (progress: SyncProgress) => ctx.heartbeat(progress),
          signal: ctx.cancellationSignal,
          logger: deps.logger.child({ activity: 'syncImage', digest, repository }),
        });
        return { digest, targets: results };
      } catch (err) {
        // A cancelled copy stops between blobs; report it as the cancellation Temporal asked for.
        if (ctx.cancellationSignal.aborted) throw ctx.cancellationSignal.reason;
        return toActivityFailure(err);
      }
    },
  };
}
