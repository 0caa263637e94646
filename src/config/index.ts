/** The public surface of src/config. */
export { durationMs, durationSchema } from './duration';
export { loadConfig, parseConfig } from './load';
export { type Config, type Credentials, type IngestConfig, type RegistryConfig, type WebhookSourceConfig } from './schema';
export { checkDeadlineOf } from './sections/admission-deadline';
export { type BuildRule, type StagingConfig } from './sections/build';
export { PLACEHOLDER } from './sections/build-template';
export { type InventoryConfig } from './sections/inventory';
export { type AuditConfig } from './sections/audit';
export { type SigningKeyConfig } from './sections/signing';
export { type ClientTlsConfig, type PayloadCodecConfig } from './sections/security';
