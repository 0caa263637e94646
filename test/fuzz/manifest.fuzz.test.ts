/** Image manifests, indexes (nested, repeated, platform-less) and configs, as resolveImage reads them from a registry. */
import { describe } from 'node:test';
import { ChainError } from '../../src/errors/chain-error';
import { type ImageSource, resolveImage } from '../../src/scan/image/source';
import { fc, fuzzTarget, mutatedJson } from './harness';

const d = (c: string) => `sha256:${c.repeat(64)}`;
const CONFIG = {
  architecture: 'amd64',
  os: 'linux',
  config: { User: 'app', Env: ['PATH=/bin'], Entrypoint: ['/bin/sh'], Labels: { a: 'b' } },
  rootfs: { type: 'layers', diff_ids: [d('1')] },
};
const MANIFEST = {
  schemaVersion: 2,
  mediaType: 'application/vnd.oci.image.manifest.v1+json',
  config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: d('c'), size: 300 },
  layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: d('a'), size: 1234 }],
};
const INDEX = {
  schemaVersion: 2,
  mediaType: 'application/vnd.oci.image.index.v1+json',
  manifests: [
    { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: d('b'), size: 500, platform: { architecture: 'arm64', os: 'linux' } },
    { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: d('e'), size: 500, platform: { architecture: 'amd64', os: 'linux' } },
  ],
};
const NESTED = {
  ...INDEX,
  manifests: [{ mediaType: 'application/vnd.oci.image.index.v1+json', digest: d('f'), size: 500, platform: { architecture: 'amd64', os: 'linux' } }],
};

/** A registry that serves the fuzzed documents: the root reference, any child manifest, the config blob. */
function source(root: string, child: string, config: string): ImageSource {
  return {
    getManifest: (_repo, reference) =>
      Promise.resolve({
        digest: reference === 'root' ? d('0') : reference,
        mediaType: 'application/json',
        bytes: Buffer.from(reference === 'root' ? root : child),
      }),
    getBlob: (_repo, digest, opts) => {
      const bytes = Buffer.from(config);
      if (opts?.maxBytes !== undefined && bytes.length > opts.maxBytes)
        return Promise.reject(new ChainError('TOO_LARGE', `blob ${digest} is larger than ${opts.maxBytes} bytes`));
      return Promise.resolve(bytes);
    },
    blobStream: () => Promise.reject(new Error('not used')),
  };
}

void describe('fuzz: manifests, indexes and configs', () => {
  const documents = fc.tuple(mutatedJson([MANIFEST, INDEX, NESTED]), mutatedJson([MANIFEST, NESTED, CONFIG]), mutatedJson([CONFIG, MANIFEST]));
  fuzzTarget(
    'manifest',
    documents,
    ([root, child, config]) => resolveImage(source(root, child, config), 'fuzz/app', 'root', { os: 'linux', architecture: 'amd64' }),
    {
      runs: 200,
      regressions: [
        // Not JSON at all: the index probe's JSON.parse threw a bare SyntaxError.
        ['{"schemaVersion":2,', JSON.stringify(MANIFEST), JSON.stringify(CONFIG)] as [string, string, string],
        // An index whose amd64 child is itself an index (nesting is refused, not followed).
        [JSON.stringify(NESTED), JSON.stringify(NESTED), JSON.stringify(CONFIG)] as [string, string, string],
      ],
    },
  );
});
