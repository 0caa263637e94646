import { spawnSync } from 'node:child_process';
import { findTool } from '../../workers/local/tools';

/** The major version of the cosign the tests run (the pinned one in .tools/bin, else PATH's). */
function cosignMajor(): number {
  const cosign = findTool('cosign');
  if (!cosign) return 2;
  const out = spawnSync(cosign, ['version'], { encoding: 'utf8' });
  const m = /GitVersion:\s+v(\d+)/.exec(`${out.stdout}${out.stderr}`);
  return m ? Number(m[1]) : 2;
}

export const COSIGN_MAJOR = cosignMajor();

/**
 * cosign v3 signs through a Sigstore signing config into bundles (OCI referrers) by default, and refuses
 * `--tlog-upload=false` there. These flags keep the key-based signatures and attestations in `sha256-<hex>.sig` /
 * `.att` tags without a transparency log — the format the chain writes and reads, and the one cosign verifies.
 * (Without `--new-bundle-format=false` a registry with no referrers API, as distribution 2.8, gets the bundle under
 * the `sha256-<hex>` referrers tag, which the chain does not read.) cosign v2 writes the tag format by default and
 * knows only the first flag.
 */
export const COSIGN_KEY_SIGN_FLAGS =
  COSIGN_MAJOR >= 3 ? ['--tlog-upload=false', '--use-signing-config=false', '--new-bundle-format=false'] : ['--tlog-upload=false'];
