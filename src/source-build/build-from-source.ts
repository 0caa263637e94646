/**
 * The build stage's domain function for source builds: check out the commit, build its Dockerfile
 * with buildah, harden the final image (setuid/setgid stripped, USER checked), push it to the
 * staging repository by digest and describe it with SLSA provenance.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, readFile, realpath, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve, sep } from 'node:path';
import { type BuildRequestInput, parseBuildRequest } from '../chain';
import { type Config, durationMs } from '../config';
import { ChainError } from '../errors';
import { type Logger } from '../log';
import { type RegistryClient, RegistryDirectory, SHA256_DIGEST } from '../registry';
import { Buildah } from './buildah';
import { writeBuildahSettings } from './buildah-settings';
import { type BuiltImage } from './built-image';
import { summarizeDockerfile } from './dockerfile';
import { checkout, commitTime } from './git';
import { runsAsRoot, stripSetuidBits } from './harden';
import { slsaProvenance } from './provenance';

export type BuildPhase = 'checkout' | 'build' | 'harden' | 'push' | 'tag';

export interface BuildProgress {
  phase: BuildPhase;
  /** A line of buildah's output during the build phase. */
  line?: string;
}

export interface BuildDeps {
  config: Pick<Config, 'build' | 'registries' | 'dataDir'>;
  /** Client of the staging registry: further tags are set by re-putting the pushed manifest. */
  registry: Pick<RegistryClient, 'host' | 'getManifest' | 'putManifest'>;
  logger?: Logger;
  signal?: AbortSignal;
  onProgress?: (p: BuildProgress) => void;
  now?: () => Date;
}

/** The real path of `path` inside the checkout; paths that leave it (through `..` or a symlink) are refused. */
async function insideCheckout(root: string, path: string, what: string): Promise<string> {
  let full: string;
  try {
    full = await realpath(resolve(root, path));
  } catch {
    throw new ChainError('BUILD_FAILED', `${what} ${path} does not exist at this commit`, { retryable: false });
  }
  if (full !== root && !full.startsWith(root + sep)) throw new ChainError('BAD_INPUT', `${what} ${path} points outside the repository`);
  return full;
}

export function defaultTag(commit: string): string {
  return `sha-${commit.slice(0, 12)}`;
}

export async function buildFromSource(input: BuildRequestInput, deps: BuildDeps): Promise<BuiltImage> {
  const request = parseBuildRequest(input);
  const { config } = deps;
  const now = deps.now ?? (() => new Date());
  const progress = (p: BuildProgress) => deps.onProgress?.(p);
  // The staging registry must be configured (buildah's settings name it); deps.registry is its client.
  new RegistryDirectory(config.registries).get(request.registry);
  const startedOn = now();
  const invocationId = randomUUID();

  const work = await mkdtemp(join(tmpdir(), 'dchain-build-'));
  const storageRoot = resolve(config.build.buildah.root ?? join(config.dataDir, 'buildah'));
  const images: string[] = [];
  let buildah: Buildah | undefined;
  try {
    buildah = new Buildah({
      root: join(storageRoot, 'storage'),
      runroot: join(storageRoot, 'run'),
      storageDriver: config.build.buildah.storageDriver,
      isolation: config.build.buildah.isolation,
      settings: await writeBuildahSettings(join(work, 'settings'), config.registries, config.build.buildah.unqualifiedSearchRegistries),
      timeoutMs: durationMs(config.build.buildah.timeout),
      ...(deps.signal ? { signal: deps.signal } : {}),
    });
    progress({ phase: 'checkout' });
    const source = join(work, 'source');
    await mkdir(source);
    const commit = await checkout({
      repoUrl: request.repoUrl,
      ref: request.ref,
      dir: source,
      ...(request.commit ? { commit: request.commit } : {}),
      ...(deps.signal ? { signal: deps.signal } : {}),
    });
    const sourceRoot = await realpath(source);
    const timestamp = await commitTime(sourceRoot);
    const dockerfile = await insideCheckout(sourceRoot, request.dockerfile, 'Dockerfile');
    const contextDir = await insideCheckout(sourceRoot, request.context, 'build context');
    const summary = summarizeDockerfile(await readFile(dockerfile, 'utf8'), request.buildArgs);

    progress({ phase: 'build' });
    const iidFile = join(work, 'image-id');
    await buildah.build({ contextDir, dockerfile, buildArgs: request.buildArgs, iidFile, timestamp, onLine: (line) => progress({ phase: 'build', line }) });
    let imageId = (await readFile(iidFile, 'utf8')).trim();
    images.push(imageId);
    const warnings: string[] = [];
    const baseImages: Array<{ reference: string; digest: string }> = [];
    for (const reference of summary.baseImages) {
      const digest = (await buildah.inspectImage(reference)).FromImageDigest;
      if (digest) baseImages.push({ reference, digest });
      else warnings.push(`no digest known for base image ${reference}; it is missing from the provenance`);
    }

    progress({ phase: 'harden' });
    const hardened = await harden(buildah, imageId, { stripSetuid: config.build.hardening.stripSetuid, iidFile: join(work, 'hardened-id'), timestamp });
    if (hardened.imageId !== imageId) images.push((imageId = hardened.imageId));
    if (hardened.runsAsRoot) {
      const message = `the final image runs as root (USER ${hardened.user === '' ? 'not set' : hardened.user}); set a non-root USER in ${request.dockerfile}`;
      if (config.build.hardening.rootUser === 'refuse') {
        // A denial like the gate's (same code, same violation shape): the chain ends blocked with this reason.
        const violation = { rule: 'build.hardening.rootUser', policyRule: 'build-hardening', enforced: true, message, evidence: { user: hardened.user } };
        throw new ChainError('POLICY_DENIED', message, { details: { user: hardened.user, violations: [violation] } });
      }
      warnings.push(message);
      deps.logger?.warn({ repository: request.repository, user: hardened.user }, 'built image runs as root');
    }

    progress({ phase: 'push' });
    const tags = request.tags.length > 0 ? [...new Set(request.tags)] : [defaultTag(commit)];
    const digestFile = join(work, 'digest');
    await buildah.push(imageId, `${deps.registry.host}/${request.repository}:${tags[0]}`, digestFile);
    const digest = (await readFile(digestFile, 'utf8')).trim();
    if (!SHA256_DIGEST.test(digest)) throw new ChainError('REGISTRY_ERROR', `buildah push reported no digest (got "${digest.slice(0, 80)}")`);

    progress({ phase: 'tag' });
    if (tags.length > 1) {
      const pushed = await deps.registry.getManifest(request.repository, digest);
      for (const tag of tags.slice(1)) await deps.registry.putManifest(request.repository, tag, pushed.bytes, pushed.mediaType);
    }

    const provenance = slsaProvenance({
      repoUrl: request.repoUrl,
      ref: request.ref,
      commit,
      dockerfile: request.dockerfile,
      context: request.context,
      buildArgs: request.buildArgs,
      baseImages,
      builderId: config.build.builderId,
      buildahVersion: await buildah.version(),
      isolation: config.build.buildah.isolation,
      storageDriver: config.build.buildah.storageDriver,
      strippedSetuid: hardened.stripped,
      invocationId,
      startedOn,
      finishedOn: now(),
    });
    deps.logger?.info(
      { repository: request.repository, digest, commit, tags, multiStage: summary.multiStage, stripped: hardened.stripped.length },
      'image built and pushed',
    );
    return {
      registry: request.registry,
      repository: request.repository,
      digest,
      tags,
      commit,
      multiStage: summary.multiStage,
      strippedSetuid: hardened.stripped,
      user: hardened.user,
      runsAsRoot: hardened.runsAsRoot,
      warnings,
      provenance,
    };
  } finally {
    // Built images are in the registry now; base images stay cached in the storage root for the next build.
    for (const id of images.reverse())
      await buildah?.removeImage(id).catch((err: unknown) => deps.logger?.debug({ err, id }, 'could not remove a built image'));
    await rm(work, { recursive: true, force: true });
  }
}

interface Hardened {
  imageId: string;
  stripped: string[];
  user: string;
  runsAsRoot: boolean;
}

/** Mounts the built image in a working container, strips setuid/setgid, and commits only when something changed. */
async function harden(buildah: Buildah, imageId: string, opts: { stripSetuid: boolean; iidFile: string; timestamp: number }): Promise<Hardened> {
  const user = (await buildah.inspectImage(imageId)).OCIv1?.config?.User ?? '';
  const container = await buildah.from(imageId, `dchain-harden-${randomUUID()}`);
  try {
    const root = await buildah.mount(container);
    const stripped = opts.stripSetuid ? await stripSetuidBits(root) : [];
    const asRoot = await runsAsRoot(root, user);
    await buildah.unmount(container);
    if (stripped.length === 0) return { imageId, stripped, user, runsAsRoot: asRoot };
    await buildah.commit(container, {
      iidFile: opts.iidFile,
      timestamp: opts.timestamp,
      createdBy: `delivery-chain: chmod u-s,g-s on ${stripped.length} file(s)`,
    });
    return { imageId: (await readFile(opts.iidFile, 'utf8')).trim(), stripped, user, runsAsRoot: asRoot };
  } finally {
    await buildah.removeContainer(container).catch(() => undefined);
  }
}
