import { type BuildRequest } from '../src/chain';
import { BuildRecordStore, buildFromSource, type BuildProgress, type BuiltImage, describePushedImage, type PushedImage } from '../src/source-build';
import { activity, KEEP_ALIVE_MS } from './activity';
import { type ActivityDeps } from './deps';

/** A RUN step may compile for minutes without printing: the build keeps heartbeating while it works. */
const BUILD_HEARTBEAT_MS = 10_000;

export interface ImageRef {
  /** Configured registry name. */
  registry: string;
  repository: string;
  digest: string;
}

export function createBuildActivities(deps: ActivityDeps) {
  const records = new BuildRecordStore(deps.redis);
  return {
    /** Build stage of a registry push: the pushed image is the build output. */
    recordPushedImage: activity(
      deps.logger,
      { subject: (i: ImageRef) => i.digest, keepAliveMs: KEEP_ALIVE_MS, failure: 'recording the pushed image failed' },
      async (input, { log }): Promise<PushedImage> => {
        const image = await describePushedImage(deps.registry(input.registry), input.repository, input.digest);
        log.info({ repository: input.repository, platforms: image.platforms.length, sizeBytes: image.sizeBytes }, 'pushed image recorded');
        return image;
      },
    ),

    /**
     * Build stage of a source build: clone, buildah build, harden, push to the staging repository.
     * Heartbeats the phase and the count of build output lines; cancellation stops buildah.
     * A broken Dockerfile fails for good (BUILD_FAILED); registry and network trouble is retried.
     */
    buildImage: activity(
      deps.logger,
      { subject: (i: BuildRequest) => i.commit ?? i.ref, keepAliveMs: BUILD_HEARTBEAT_MS, failure: 'source build failed' },
      async (input, { log, heartbeat, signal }): Promise<BuiltImage> => {
        let lines = 0;
        const built = await buildFromSource(input, {
          config: deps.config,
          registry: deps.registry(input.registry),
          logger: log,
          signal,
          onProgress: (p: BuildProgress) => {
            if (p.line !== undefined) lines++;
            heartbeat({ phase: p.phase, lines });
          },
        });
        log.info(
          { repository: built.repository, digest: built.digest, tags: built.tags, multiStage: built.multiStage, stripped: built.strippedSetuid.length },
          'source build pushed',
        );
        // What the digest was built from: a rescan that turns it denied while deployed builds the ref again.
        await records.record(built.digest, input);
        return built;
      },
    ),
  };
}
