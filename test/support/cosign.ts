/**
 * cosign v3 signs through a Sigstore signing config into bundles (OCI referrers) by default, and refuses
 * `--tlog-upload=false` there. These flags keep the key-based signatures and attestations in `sha256-<hex>.sig` /
 * `.att` tags without a transparency log — the format the chain writes and reads, and the one cosign verifies.
 */
export const COSIGN_KEY_SIGN_FLAGS = ['--tlog-upload=false', '--use-signing-config=false', '--new-bundle-format=false'];
