/** Image signing and verification compatible with cosign and skopeo (sigstore attachments). */
export { type Signer, type Verifier, keyIdOf } from './signer';
export { KeySigner } from './key-signer';
export { PublicKeyVerifier } from './key-verifier';
export { Pkcs11Signer, type Pkcs11SignerOptions } from './pkcs11-signer';
export { generateKeyPair, loadPrivateKey, loadPublicKey, type GeneratedKeyPair } from './key-files';
export { encryptCosignPrivateKey, decryptCosignPrivateKey, SIGSTORE_PRIVATE_KEY_PEM_TYPE } from './cosign-key-format';
export { signImage, type SignImageOptions, type SignImageResult } from './sign-image';
export { attestImage, type AttestImageOptions, type AttestImageResult } from './attest-image';
export { verifyImage, type VerificationReport, type VerificationFailure, type VerificationFailureCode, type AttestationCheck } from './verify-image';
export { PREDICATE_TYPES } from './in-toto';
export { attachmentTag } from './cosign-layout';
export { type SignatureRegistry } from './registry-port';
export { signingSchema, type SigningConfig, type SigningKeyConfig } from '../config/sections/signing';
export { createSigner, ENV_KEY_FILE, ENV_KEY_PASSWORD, ENV_KEY_PEM } from './signer-from-config';
export { buildVsa, parseVsa, VSA_PREDICATE_TYPE, VSA_VERIFIER_ID, vsaFromChainAttestations, vsaPredicateSchema, vsaResourceUri, type VsaInput, type VsaPredicate } from './vsa';
