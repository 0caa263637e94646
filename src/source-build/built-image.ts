import { type Provenance } from './provenance';

/** What the build stage hands the rest of the chain. */
export interface BuiltImage {
  /** Configured registry name and repository the image was pushed to. */
  registry: string;
  repository: string;
  /** Manifest digest of the pushed image. */
  digest: string;
  tags: string[];
  commit: string;
  multiStage: boolean;
  /** Files of the final image whose setuid/setgid bits were removed. */
  strippedSetuid: string[];
  /** The final image's USER ('' = none, i.e. root). */
  user: string;
  runsAsRoot: boolean;
  warnings: string[];
  provenance: Provenance;
}
