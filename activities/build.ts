import { describePushedImage, type PushedImage } from '../src/build/pushed-image';
import { type ActivityDeps } from './deps';
import { toActivityFailure } from './errors';
import { activityLogger } from './log';

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
  };
}
