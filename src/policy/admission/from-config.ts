import { readFileSync } from 'node:fs';
import { Redis, type RedisOptions } from 'ioredis';
import { checkDeadlineOf, type Config, durationMs } from '../../config';
import { ChainError } from '../../errors';
import { type Logger } from '../../log';
import { type RegistryClient, RegistryDirectory, registryHost } from '../../registry';
import { verifyImage } from '../../signing';
import { DecisionStore } from '../decision-store';
import { type LoadedPolicy } from '../policy-file';
import { policyFromConfig } from '../policy-from-config';
import { abortableRegistry } from './abortable-registry';
import { type AdmissionServerDeps } from './server';
import { signatureCheckFromVerifier } from './signature-check';

/**
 * The admission server's dependencies from the configuration: the policy file, the decision store
 * on `redis`, a registry client per configured registry (by host, as images name them) to resolve
 * tags and read cosign signatures, the registries images may come from, and the TLS files.
 */
export function admissionDepsFromConfig(
  config: Config,
  redis: Redis | undefined,
  logger: Logger,
  policy: LoadedPolicy = policyFromConfig(config),
  redisLabel?: string,
): AdmissionServerDeps {
  const { admission } = config.policy;
  if (admission.tlsCertFile === undefined || admission.tlsKeyFile === undefined) {
    throw new ChainError('CONFIG_INVALID', 'policy.admission.tlsCertFile and tlsKeyFile are required: the API server only calls webhooks over HTTPS');
  }
  const deadlineMs = checkDeadlineOf(admission);
  // Registry calls never outlive a check: one request at most the check's budget, one quick retry.
  const registries = new RegistryDirectory(config.registries, { logger, maxTimeoutMs: deadlineMs, retry: { retries: 1, baseDelayMs: 100, maxDelayMs: 250 } });
  // Images name registries by host; one that is not configured cannot be checked.
  const clientFor = (host: string): RegistryClient => {
    if (!registries.find(host)) throw new ChainError('NOT_FOUND', `registry ${host} is not configured`);
    return registries.client(host);
  };
  return {
    policy: () => policy,
    // Registry-only mode reads no Redis at all: what decides travels with the image.
    ...(admission.mode === 'decision-store' && redis ? { decisions: new DecisionStore(redis) } : {}),
    mode: admission.mode,
    summaryMaxAgeMs: durationMs(admission.summaryMaxAge),
    decisionStoreName: `the decision store (${redisLabel ?? 'Redis'})`,
    serveCachedDecisionsOnOutageMs: admission.serveCachedDecisionsOnOutageMs,
    allowedRegistries: allowedRegistries(config),
    resolveTag: async ({ registry, repository, tag }) => (await clientFor(registry).headManifest(repository, tag))?.digest,
    checkSignatures: signatureCheckFromVerifier(
      (image, keys, signal) => verifyImage(abortableRegistry(clientFor(image.registry), signal), image.repository, image.digest, keys),
      policy.keys,
    ),
    tls: { cert: readTlsFile(admission.tlsCertFile), key: readTlsFile(admission.tlsKeyFile) },
    logger,
    checkDeadlineMs: deadlineMs,
    cache: { decisionTtlMs: admission.decisionCacheTtlMs, signatureTtlMs: admission.signatureCacheTtlMs },
    onClose: () => registries.close(),
  };
}

/**
 * `policy.admission.allowedRegistries`, else the hosts of the registries the chain receives from
 * (sources) and delivers to (sync targets), else — an admission-only configuration naming neither —
 * every configured registry.
 */
export function allowedRegistries(config: Config): string[] {
  const explicit = config.policy.admission.allowedRegistries;
  if (explicit) return explicit;
  const directory = new RegistryDirectory(config.registries);
  const named = [...config.sources.map((s) => s.registry), ...config.sync.targets.map((t) => t.registry)]
    .map((name) => directory.find(name))
    .filter((r): r is NonNullable<typeof r> => r !== undefined);
  const registries = named.length ? named : config.registries;
  return [...new Set(registries.map(registryHost))];
}

/**
 * The admission server's Redis connection: commands fail at once while Redis is down (no offline
 * queue), so a review is answered with the outage named instead of waiting for the API server's
 * timeout; ioredis keeps reconnecting in the background. The label names it without credentials.
 */
export function admissionRedis(target: string | RedisOptions, description?: string): { redis: Redis; label: string } {
  const options: RedisOptions = {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    connectTimeout: 2_000,
    commandTimeout: 1_500,
    retryStrategy: (n) => Math.min(n * 200, 2_000),
  };
  // A URL, or Sentinel options (redis.sentinel): ioredis then asks the Sentinels for the primary.
  const redis = typeof target === 'string' ? new Redis(target, options) : new Redis({ ...target, ...options });
  redis.on('error', () => undefined); // every failed command names the outage; see decisionStoreName
  return { redis, label: `Redis at ${description ?? (typeof target === 'string' ? target.replace(/\/\/[^@]*@/, '//') : 'Sentinel')}` };
}

function readTlsFile(path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (cause) {
    throw new ChainError('CONFIG_UNREADABLE', `cannot read TLS file ${path}: ${(cause as Error).message}`, { cause });
  }
}
