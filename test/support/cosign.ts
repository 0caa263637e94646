import { spawnSync } from 'node:child_process';
import { findTool } from '../../workers/local/tools';

/**
 * cosign v3 signs through a Sigstore signing config into bundles (OCI referrers) by default, and refuses
 * `--tlog-upload=false` there. These flags keep the key-based signatures and attestations in `sha256-<hex>.sig` /
 * `.att` tags without a transparency log — the format the chain writes and reads, and the one cosign verifies.
 * cosign v2 writes that format by default and knows only the first flag.
 */
function cosignMajor(): number {
  const cosign = findTool('cosign');
  if (!cosign) return 2;
  const out = spawnSync(cosign, ['version'], { encoding: 'utf8' });
  const m = /GitVersion:\s+v(\d+)/.exec(`${out.stdout}${out.stderr}`);
  return m ? Number(m[1]) : 2;
}

export const COSIGN_KEY_SIGN_FLAGS =
  cosignMajor() >= 3 ? ['--tlog-upload=false', '--use-signing-config=false', '--new-bundle-format=false'] : ['--tlog-upload=false'];
