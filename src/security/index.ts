/** The public surface of src/security. */
export { reloadCertificates, serverTlsOptions } from './certificate-reload';
export { createCodecServer } from './codec-server';
export { PayloadEncryption } from './payload-encryption';
export { clientTlsOptions, readPasswordFile, readSecurityFile } from './tls-files';
