/** Image references of API requests, resolved against the configured registries only (the registry directory). */
import { ChainError } from '../../src/errors';
import { type RegistryDirectory } from '../../src/registry';
import { parseImageReference } from '../../src/registry';

export interface ResolvedImage {
  /** Configured registry name. */
  registry: string;
  repository: string;
  digest: string;
  tag?: string;
}

/** The configured registry a reference names by host (or by name: `source/team/app:v1`); any other host is refused. */
export function locateImage(registries: RegistryDirectory, reference: string): { registry: string; repository: string; tag?: string; digest?: string } {
  const ref = parseImageReference(reference);
  const extra = { ...(ref.tag ? { tag: ref.tag } : {}), ...(ref.digest ? { digest: ref.digest } : {}) };
  const byHost = registries.registries.find((r) => new URL(r.url).host === ref.registry);
  if (byHost) return { registry: byHost.name, repository: ref.repository, ...extra };
  const [first, ...rest] = ref.repository.split('/');
  const byName = ref.registry === 'docker.io' && rest.length > 0 ? registries.registries.find((r) => r.name === first) : undefined;
  if (byName) return { registry: byName.name, repository: rest.join('/'), ...extra };
  throw new ChainError(
    'BAD_INPUT',
    `image "${reference}" is not in a configured registry (${registries.registries.map((r) => `${r.name} = ${new URL(r.url).host}`).join(', ')})`,
  );
}

/** The digest a reference names (a tag is resolved in its registry; a missing one is NOT_FOUND). */
export async function resolveImage(registries: RegistryDirectory, reference: string): Promise<ResolvedImage> {
  const located = locateImage(registries, reference);
  if (located.digest)
    return { registry: located.registry, repository: located.repository, digest: located.digest, ...(located.tag ? { tag: located.tag } : {}) };
  const tag = located.tag ?? 'latest';
  const head = await registries.client(located.registry).headManifest(located.repository, tag);
  if (!head) throw new ChainError('NOT_FOUND', `${located.registry}/${located.repository}:${tag} does not exist`);
  return { registry: located.registry, repository: located.repository, digest: head.digest, tag };
}
