import { readFileSync } from 'node:fs';
import { type Redis } from 'ioredis';
import { type Config } from '../../config/schema';
import { ChainError } from '../../errors/chain-error';
import { type Logger } from '../../log/logger';
import { RegistryClient } from '../../registry';
import { verifyImage } from '../../signing';
import { DecisionStore } from '../decision-store';
import { type LoadedPolicy } from '../policy-file';
import { policyFromConfig } from '../policy-from-config';
import { type AdmissionServerDeps } from './server';
import { signatureCheckFromVerifier } from './signature-check';

/**
 * The admission server's dependencies from the configuration: the policy file, the decision store
 * on `redis`, a registry client per configured registry (by host, as images name them) to resolve
 * tags and read cosign signatures, and the TLS files.
 */
export function admissionDepsFromConfig(config: Config, redis: Redis, logger: Logger, policy: LoadedPolicy = policyFromConfig(config)): AdmissionServerDeps {
  const { admission } = config.policy;
  if (admission.tlsCertFile === undefined || admission.tlsKeyFile === undefined) {
    throw new ChainError('CONFIG_INVALID', 'policy.admission.tlsCertFile and tlsKeyFile are required: the API server only calls webhooks over HTTPS');
  }
  const clients = new Map(config.registries.map((r) => [new URL(r.url).host, RegistryClient.fromConfig(r, { logger })]));
  const clientFor = (host: string): RegistryClient => {
    const client = clients.get(host);
    if (!client) throw new ChainError('NOT_FOUND', `registry ${host} is not configured`);
    return client;
  };
  return {
    policy: () => policy,
    decisions: new DecisionStore(redis),
    resolveTag: async ({ registry, repository, tag }) => (await clientFor(registry).headManifest(repository, tag))?.digest,
    checkSignatures: signatureCheckFromVerifier((image, keys) => verifyImage(clientFor(image.registry), image.repository, image.digest, keys), policy.keys),
    tls: { cert: readTlsFile(admission.tlsCertFile), key: readTlsFile(admission.tlsKeyFile) },
    logger,
    checkDeadlineMs: admission.checkDeadlineMs,
    cache: { decisionTtlMs: admission.decisionCacheTtlMs, signatureTtlMs: admission.signatureCacheTtlMs },
  };
}

function readTlsFile(path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (cause) {
    throw new ChainError('CONFIG_UNREADABLE', `cannot read TLS file ${path}: ${(cause as Error).message}`, { cause });
  }
}
