import { Context } from '@temporalio/activity';
import { buildFromSource, type BuildProgress } from '../src/source-build/build-from-source';
import { type BuildRequest, type BuiltImage } from '../src/source-build/build-request';
import { describePushedImage, type PushedImage } from '../src/source-build/pushed-image';
import { type ActivityDeps } from './deps';
import { toActivityFailure } from './errors';
import { activityLogger } from './log';

const BUILD_HEARTBEAT_MS = 10_000;

export interface ImageRef {
  /** Configured registry name. */
  registry: string;
  repository: string;
  digest: string;
}

export function createBuildActivities(deps: ActivityDeps) {
  return {
    /** Build stage of a registry push: the pushed image is the build output. */
    async recordPushedImage(input: ImageRef): Promise<PushedImage> {
      const log = activityLogger(deps.logger, input.digest);
      try {
        const image = await describePushedImage(deps.registry(input.registry), input.repository, input.digest);
        log.info({ repository: input.repository, platforms: image.platforms.length, sizeBytes: image.sizeBytes }, 'pushed image recorded');
        return image;
      } catch (err) {
        log.warn({ err }, 'recording the pushed image failed');
        return toActivityFailure(err);
      }
    },

    /**
     * Build stage of a source build: clone, buildah build, harden, push to the staging repository.
     * Heartbeats the phase and the count of build output lines; cancellation stops buildah.
     * A broken Dockerfile fails for good (BUILD_FAILED); registry and network trouble is retried.
     */
    async buildImage(input: BuildRequest): Promise<BuiltImage> {
      const ctx = Context.current();
      const log = activityLogger(deps.logger, input.commit ?? input.ref);
      let lines = 0;
      let phase: BuildProgress['phase'] = 'checkout';
      const heartbeat = (p: BuildProgress) => {
        phase = p.phase;
        if (p.line !== undefined) lines++;
        ctx.heartbeat({ phase, lines });
      };
      // A RUN step may compile for minutes without printing: keep heartbeating while it works.
      const alive = setInterval(() => ctx.heartbeat({ phase, lines }), BUILD_HEARTBEAT_MS);
      try {
        const built = await buildFromSource(input, {
          config: deps.config,
          registry: deps.registry(input.registry),
          logger: log,
          signal: ctx.cancellationSignal,
          onProgress: heartbeat,
        });
        log.info({ repository: built.repository, digest: built.digest, tags: built.tags, multiStage: built.multiStage, stripped: built.strippedSetuid.length }, 'source build pushed');
        return built;
      } catch (err) {
        log.warn({ err }, 'source build failed');
        return toActivityFailure(err);
      } finally {
        clearInterval(alive);
      }
    },
  };
}
