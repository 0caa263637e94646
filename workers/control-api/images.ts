/** Image references of API requests, resolved against the configured registries only. */
import { type Config } from '../../src/config/schema';
import { ChainError } from '../../src/errors/chain-error';
import { RegistryClient } from '../../src/registry/client';
import { parseImageReference } from '../../src/registry/reference';

export interface ResolvedImage {
  /** Configured registry name. */
  registry: string;
  repository: string;
  digest: string;
  tag?: string;
}

/** The configured registry whose host a reference names (or whose name it starts with: `source/team/app:v1`). */
export function locateImage(config: Config, reference: string): { registry: string; repository: string; tag?: string; digest?: string } {
  const ref = parseImageReference(reference);
  const byHost = config.registries.find((r) => new URL(r.url).host === ref.registry);
  if (byHost) return { registry: byHost.name, repository: ref.repository, ...(ref.tag ? { tag: ref.tag } : {}), ...(ref.digest ? { digest: ref.digest } : {}) };
  const [first, ...rest] = ref.repository.split('/');
  const byName = ref.registry === 'docker.io' ? config.registries.find((r) => r.name === first) : undefined;
  if (byName && rest.length > 0) return { registry: byName.name, repository: rest.join('/'), ...(ref.tag ? { tag: ref.tag } : {}), ...(ref.digest ? { digest: ref.digest } : {}) };
  throw new ChainError('BAD_INPUT', `image "${reference}" is not in a configured registry (${config.registries.map((r) => `${r.name} = ${new URL(r.url).host}`).join(', ')})`);
}

/** The digest a reference names (a tag is resolved in its registry; a missing one is NOT_FOUND). */
export async function resolveImage(config: Config, reference: string): Promise<ResolvedImage> {
  const located = locateImage(config, reference);
  const tag = located.tag;
  if (located.digest) return { registry: located.registry, repository: located.repository, digest: located.digest, ...(tag ? { tag } : {}) };
  const registry = config.registries.find((r) => r.name === located.registry)!;
  const head = await RegistryClient.fromConfig(registry).headManifest(located.repository, tag ?? 'latest');
  if (!head) throw new ChainError('NOT_FOUND', `${located.registry}/${located.repository}:${tag ?? 'latest'} does not exist`);
  return { registry: located.registry, repository: located.repository, digest: head.digest, tag: tag ?? 'latest' };
}

/** Registry name of a host as decisions record it (policies name hosts, the API configured names). */
export function registryNameOf(config: Config, host: string): string {
  return config.registries.find((r) => new URL(r.url).host === host)?.name ?? host;
}
