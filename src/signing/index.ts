/** Image signing and verification compatible with cosign and skopeo (sigstore attachments). */
export { type Signer } from './signer';
export { KeySigner } from './key-signer';
export { PublicKeyVerifier } from './key-verifier';
export { Pkcs11Signer } from './pkcs11-signer';
export { generateKeyPair } from './key-files';
export { signImage } from './sign-image';
export { attestImage } from './attest-image';
export { verifyImage, type VerificationReport } from './verify-image';
export { PREDICATE_TYPES } from './in-toto';
export { type SignatureRegistry } from './registry-port';
export { createSigner, ENV_KEY_FILE, ENV_KEY_PASSWORD, ENV_KEY_PEM } from './signer-from-config';
export { buildVsa, parseVsa, VSA_PREDICATE_TYPE, vsaFromChainAttestations } from './vsa';
export { verifiedPredicates } from './verify-image';
export { type VsaPredicate } from './vsa';
