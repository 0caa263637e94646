/**
 * SLSA provenance v1 (https://slsa.dev/spec/v1.0/provenance) of a source build: what was built
 * (repository, ref, commit, Dockerfile), from what (the commit and the base images by digest), by
 * which builder and when. The sign stage attests it for the pushed digest.
 */
export const SLSA_PROVENANCE_V1 = 'https://slsa.dev/provenance/v1';
export const BUILD_TYPE = 'https://delivery-chain.dev/buildtypes/buildah/v1';

/** An in-toto ResourceDescriptor. */
export interface ResourceDescriptor {
  uri: string;
  digest: Record<string, string>;
  name?: string;
}

export interface ProvenancePredicate {
  buildDefinition: {
    buildType: string;
    externalParameters: { repository: string; ref: string; commit: string; dockerfile: string; context: string; buildArgs?: Record<string, string> };
    internalParameters: { isolation: string; storageDriver: string; strippedSetuid: string[] };
    resolvedDependencies: ResourceDescriptor[];
  };
  runDetails: {
    builder: { id: string; version: Record<string, string> };
    metadata: { invocationId: string; startedOn: string; finishedOn: string };
  };
}

export interface Provenance {
  predicateType: typeof SLSA_PROVENANCE_V1;
  predicate: ProvenancePredicate;
}

export interface ProvenanceFacts {
  repoUrl: string;
  ref: string;
  commit: string;
  dockerfile: string;
  context: string;
  buildArgs: Record<string, string>;
  /** Base images as written after argument expansion, with the manifest digest buildah used. */
  baseImages: Array<{ reference: string; digest: string }>;
  builderId: string;
  buildahVersion: string;
  isolation: string;
  storageDriver: string;
  strippedSetuid: string[];
  invocationId: string;
  startedOn: Date;
  finishedOn: Date;
}

const hexOf = (digest: string) => {
  const [algorithm, hex] = digest.split(':');
  return { [algorithm ?? 'sha256']: hex ?? '' };
};

export function slsaProvenance(f: ProvenanceFacts): Provenance {
  return {
    predicateType: SLSA_PROVENANCE_V1,
    predicate: {
      buildDefinition: {
        buildType: BUILD_TYPE,
        externalParameters: {
          repository: f.repoUrl,
          ref: f.ref,
          commit: f.commit,
          dockerfile: f.dockerfile,
          context: f.context,
          ...(Object.keys(f.buildArgs).length > 0 ? { buildArgs: f.buildArgs } : {}),
        },
        internalParameters: { isolation: f.isolation, storageDriver: f.storageDriver, strippedSetuid: f.strippedSetuid },
        resolvedDependencies: [
          { uri: `git+${f.repoUrl}@${f.ref}`, digest: { gitCommit: f.commit } },
          ...f.baseImages.map((b) => ({ uri: `oci://${b.reference}`, digest: hexOf(b.digest), name: b.reference })),
        ],
      },
      runDetails: {
        builder: { id: f.builderId, version: { buildah: f.buildahVersion } },
        metadata: { invocationId: f.invocationId, startedOn: f.startedOn.toISOString(), finishedOn: f.finishedOn.toISOString() },
      },
    },
  };
}
