/**
 * The configuration's schema, one section at a time. Each section's schema is built the first time it is needed
 * (zod schemas cost time to construct, and the section modules are loaded only then): a command reads a few sections
 * of the configuration, and a `dchain scan` would otherwise build all twenty at start-up for the defaults alone.
 */
import { z } from 'zod';
import type * as Signing from './sections/signing';
import type * as Scan from './sections/scan';
import type * as Build from './sections/build';
import type * as Admission from './sections/admission';
import type * as Inventory from './sections/inventory';
import type * as Audit from './sections/audit';
import type * as Security from './sections/security';
import { durationSchema } from './duration';

/* eslint-disable @typescript-eslint/no-require-imports -- the section modules build their schemas when loaded: loaded on first use, see above */
const signing = () => require('./sections/signing') as typeof Signing;
const scan = () => require('./sections/scan') as typeof Scan;
const build = () => require('./sections/build') as typeof Build;
const admission = () => require('./sections/admission') as typeof Admission;
const inventory = () => require('./sections/inventory') as typeof Inventory;
const audit = () => require('./sections/audit') as typeof Audit;
const security = () => require('./sections/security') as typeof Security;
/* eslint-enable @typescript-eslint/no-require-imports */

/** `make` once, on the first call. */
function once<T>(make: () => T): () => T {
  let value: T | undefined;
  return () => (value ??= make());
}

const port = z.number().int().min(1).max(65535);
const name = z.string().regex(/^[a-z0-9][a-z0-9-]*$/, 'lowercase letters, digits and dashes');

const credentialsSchema = once(() =>
  z.union([z.strictObject({ username: z.string().min(1), password: z.string() }), z.strictObject({ token: z.string().min(1) })]),
);

/** Exported for tests of what a registry entry accepts; a lazy schema, built on first use. */
export const registrySchema = z.lazy(() =>
  z.strictObject({
    name,
    /** Base URL, e.g. http://127.0.0.1:5000 or https://registry.example.com */
    url: z.url({ protocol: /^https?$/ }),
    credentials: credentialsSchema().optional(),
    /** Skip TLS verification (self-signed test registries only). */
    insecure: z.boolean().default(false),
    /** PEM bundle of CAs to trust for this registry. */
    caFile: z.string().optional(),
    timeoutMs: z.number().int().positive().default(30_000),
    /** Started by `npm start` (Debian docker-registry) instead of an existing service. */
    managed: z.boolean().default(false),
  }),
);

const webhookSourceSchema = once(() =>
  z.strictObject({
    name,
    /**
     * The configured registry this source's events belong to. The source decides the registry: a host
     * an event names (distribution's target.url and request.host, generic's `registry`, Harbor's
     * resource_url) is informational, never contacted, and the chain runs against this registry.
     */
    registry: name,
    format: z.enum(['distribution', 'harbor', 'acr', 'generic']).default('distribution'),
    /** Shared secret expected in the Authorization header (`Bearer <secret>` or the bare value). */
    secret: z.string().min(16, 'at least 16 characters'),
    /** Optional HMAC-SHA256 key for a signed body (X-Dchain-Signature / X-Dchain-Timestamp). */
    hmacSecret: z.string().min(16).optional(),
    include: z.array(z.string()).default([]),
    exclude: z.array(z.string()).default([]),
  }),
);

const syncTargetSchema = once(() =>
  z.strictObject({
    registry: name,
    /** Repository rewrite applied on the target: prefix is added, replace maps a leading namespace. */
    repositoryPrefix: z.string().default(''),
    replace: z.array(z.strictObject({ from: z.string(), to: z.string() })).default([]),
  }),
);

const ingestSchema = once(() =>
  z.strictObject({
    /** How often the reconciliation schedule lists source registries for digests that never had a chain. */
    reconcileInterval: durationSchema.default('10m'),
    /** Pushes whose client User-Agent starts with one of these are the project's own (sync) and start no chain. */
    ignoreUserAgents: z.array(z.string().min(1)).default(['delivery-chain-sync/']),
    /** Pushes by these registry users (the sync's credentials) start no chain. */
    ignoreActors: z.array(z.string().min(1)).default([]),
    /** Manifests pushed by digest only (index children, referrers) start no chain unless this is on. */
    startUntagged: z.boolean().default(false),
    /** How long a delivery id and a digest are remembered for deduplication. */
    dedupTtl: durationSchema.default('30d'),
    /** Entries kept in the delivery log. */
    deliveryLogSize: z.number().int().positive().default(10_000),
    /** Attempts to start a chain (with capped exponential backoff) before the event is dead-lettered. */
    maxAttempts: z.number().int().min(1).default(40),
    maxBackoff: durationSchema.default('15s'),
    /**
     * A digest whose last chain failed (not blocked) runs again on its next push, reconcile or
     * `dchain chain retry`: not before `backoff` (doubling with each failure in a row, at most
     * `maxBackoff`), and not after `maxRuns` failures in a row.
     */
    retryFailed: z
      .strictObject({ backoff: durationSchema.default('1m'), maxBackoff: durationSchema.default('1h'), maxRuns: z.number().int().min(1).default(5) })
      .prefault({}),
    workerConcurrency: z.number().int().positive().default(8),
    /**
     * Redis replicas that must hold an event before the API acknowledges it (WAIT): with Sentinel, 1
     * means an acknowledged event survives the primary's death; 0 = the primary's AOF only.
     */
    replicaAcks: z.number().int().min(0).max(5).default(0),
    /** Accepted clock skew of X-Dchain-Timestamp on HMAC-signed deliveries. */
    signatureTolerance: durationSchema.default('5m'),
  }),
);

const subscriberSchema = once(() =>
  z.strictObject({
    name,
    url: z.url({ protocol: /^https?$/ }),
    /** HMAC-SHA256 key for the X-Dchain-Signature header. */
    secret: z.string().min(16, 'at least 16 characters'),
  }),
);

const distributeSchema = once(() =>
  z.strictObject({
    /** Tags set on the digest in every sync target once the chain passed; `{date}` = the chain's UTC date (yyyymmdd). */
    promoteTags: z.array(z.string().min(1)).default(['stable']),
    /** Outgoing webhooks notified of every distributed (or denied) image. */
    subscribers: z.array(subscriberSchema()).default([]),
  }),
);

const rescanSchema = once(() =>
  z.strictObject({
    /** The rescan schedule: off pauses it (the worker keeps it paused), on creates or resumes it. */
    enabled: z.boolean().default(true),
    /** How often stored SBOMs are matched against fresh OSV data and re-gated. */
    interval: durationSchema.default('24h'),
    /** Digests listed per page, and images rescanned at the same time. */
    batchSize: z.number().int().min(1).max(1000).default(500),
    concurrency: z.number().int().min(1).max(64).default(8),
    /**
     * Pages re-matched and re-gated at the same time, each by one activity that any scan worker takes
     * (two at a time per worker): a fleet rescan uses the cores of every scan worker running.
     */
    parallelBatches: z.number().int().min(1).max(16).default(2),
    /**
     * Between full rescans, a rescan re-matches only the images holding a package whose OSV records
     * changed; once the last full one is this old, the next one re-matches (and reads the VEX of) every image.
     */
    fullInterval: durationSchema.default('7d'),
    /** A blocked image whose rescan turns it allowed starts its chain again (off: it stays blocked until `dchain chain retry`). */
    startUnblocked: z.boolean().default(true),
    /**
     * A deployed image the rescan turns denied is rebuilt when the chain built it from source: its ref is
     * built again (new base image, fixed dependencies) and the new digest goes through the chain.
     */
    rebuildDeployed: z.boolean().default(true),
  }),
);

const policyConfigSchema = once(() =>
  z.strictObject({
    /** Image policy file (YAML or JSON); absent = the built-in enforcing policy (src/policy/default-policy.ts). */
    file: z.string().min(1).optional(),
    /** Mode of the built-in policy: dry-run records what it would deny without blocking. */
    mode: z.enum(['enforce', 'dry-run']).optional(),
    admission: admission().admissionConfigSchema,
  }),
);

const SECTIONS = {
  dataDir: once(() => z.string().default('.data')),
  log: once(() => z.strictObject({ level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal']).default('info') }).prefault({})),
  temporal: once(() =>
    z
      .strictObject({
        /** host:port of an existing Temporal frontend; absent = start a local dev server. */
        address: z
          .string()
          .regex(/^[^:\s]+:\d+$/, 'host:port')
          .optional(),
        namespace: z.string().min(1).default('default'),
        taskQueue: z.string().min(1).default('delivery-chain'),
        connectTimeoutMs: z.number().int().positive().default(10_000),
        /** TLS to the frontend (mutual with certFile/keyFile): every client and worker connection uses it. */
        tls: security().clientTlsSchema.optional(),
        /** Encrypts every payload the client and the workers send to Temporal (see src/config/sections/security.ts). */
        codec: security().payloadCodecSchema.optional(),
        /** The local dev server `npm start` runs: gRPC frontend, Web UI, HTTP API and Prometheus metrics ports. */
        devServer: z
          .strictObject({ port: port.default(7233), uiPort: port.default(8233), httpPort: port.default(7243), metricsPort: port.default(7244) })
          .prefault({}),
      })
      .prefault({}),
  ),
  redis: once(() =>
    z
      .strictObject({
        /** redis:// URL of an existing Redis; absent = start a local redis-server with AOF. */
        url: z
          .string()
          .regex(/^rediss?:\/\//, 'a redis:// or rediss:// URL')
          .optional(),
        localPort: port.default(6379),
        /**
         * AUTH (an ACL user, or the default user's `requirepass`) for `url` and, unless `sentinel` names
         * its own, the Sentinel path's data nodes. The password: here, in `passwordFile`, or in
         * DCHAIN_REDIS_PASSWORD; never logged.
         */
        username: z.string().min(1).optional(),
        password: z.string().min(1).optional(),
        passwordFile: z.string().min(1).optional(),
        /** TLS files (CA, client certificate); TLS is on with a rediss:// URL, `sentinel.tls`, or this section. */
        tls: security().clientTlsSchema.optional(),
        /**
         * Redis behind Sentinel: every client asks the Sentinels for the current primary, so a failover
         * needs no restart. Excludes `url`.
         */
        sentinel: z
          .strictObject({
            /** The name the Sentinels monitor the primary under (`sentinel monitor <name> …`). */
            name: z.string().min(1),
            sentinels: z.array(z.strictObject({ host: z.string().min(1), port })).min(1, 'at least one Sentinel'),
            /** AUTH of the data nodes (ACL user optional) and, when they require one, of the Sentinels. */
            username: z.string().min(1).optional(),
            password: z.string().min(1).optional(),
            sentinelPassword: z.string().min(1).optional(),
            /** TLS to the data nodes and the Sentinels. */
            tls: z.boolean().default(false),
          })
          .optional(),
      })
      .refine((r) => !(r.url && r.sentinel), { message: 'set either redis.url or redis.sentinel, not both', path: ['sentinel'] })
      .refine((r) => !(r.password && r.passwordFile), { message: 'set either redis.password or redis.passwordFile, not both', path: ['passwordFile'] })
      .prefault({}),
  ),
  api: once(() =>
    z
      .strictObject({
        host: z.string().default('127.0.0.1'),
        port: port.default(8080),
        /** URL registries use to reach the API; defaults to http://host:port. */
        publicUrl: z.url().optional(),
        bodyLimitBytes: z.number().int().positive().default(1_048_576),
        /**
         * Bearer token for reading endpoints (`GET /webhooks/deliveries`). Without one they answer
         * loopback clients only.
         */
        adminToken: z.string().min(16, 'at least 16 characters').optional(),
        /** Serve HTTPS (certificate reloaded when its files change); absent = plain HTTP. */
        tls: security().serverTlsSchema.optional(),
      })
      .prefault({}),
  ),
  registries: once(() =>
    z.array(registrySchema).default([
      { name: 'source', url: 'http://127.0.0.1:5000', managed: true, insecure: false, timeoutMs: 30_000 },
      { name: 'mirror', url: 'http://127.0.0.1:5001', managed: true, insecure: false, timeoutMs: 30_000 },
    ]),
  ),
  sources: once(() =>
    z
      .array(webhookSourceSchema())
      .default([{ name: 'source', registry: 'source', format: 'distribution', secret: 'change-me-local-webhook-secret', include: [], exclude: [] }]),
  ),
  ingest: once(() => ingestSchema().prefault({})),
  distribute: once(() => distributeSchema().prefault({})),
  rescan: once(() => rescanSchema().prefault({})),
  policy: once(() => policyConfigSchema().prefault({})),
  signing: once(() => signing().signingSchema.prefault({})),
  scan: once(() => scan().scanConfigSchema.prefault({})),
  build: once(() => build().buildConfigSchema.prefault({})),
  /** Prometheus /metrics of the worker processes (the API serves it on api.port, admission on its own port); 0 turns one off. */
  metrics: once(() =>
    z
      .strictObject({
        host: z.string().default('127.0.0.1'),
        temporalWorkerPort: z.number().int().min(0).max(65535).default(9464),
        ingestWorkerPort: z.number().int().min(0).max(65535).default(9465),
      })
      .prefault({}),
  ),
  inventory: once(() => inventory().inventoryConfigSchema.prefault({})),
  audit: once(() => audit().auditConfigSchema.prefault({})),
  sync: once(() => z.strictObject({ targets: z.array(syncTargetSchema()).default([{ registry: 'mirror', repositoryPrefix: '', replace: [] }]) }).prefault({})),
};

/** The top-level keys, in the order the parsed configuration lists them. */
export const SECTION_KEYS = Object.keys(SECTIONS) as (keyof typeof SECTIONS)[];

/** One section's schema (built on first use). */
export function sectionSchema<K extends keyof typeof SECTIONS>(key: K): ReturnType<(typeof SECTIONS)[K]> {
  return SECTIONS[key]() as ReturnType<(typeof SECTIONS)[K]>;
}

const fullSchema = () =>
  z.strictObject({
    dataDir: SECTIONS.dataDir(),
    log: SECTIONS.log(),
    temporal: SECTIONS.temporal(),
    redis: SECTIONS.redis(),
    api: SECTIONS.api(),
    registries: SECTIONS.registries(),
    sources: SECTIONS.sources(),
    ingest: SECTIONS.ingest(),
    distribute: SECTIONS.distribute(),
    rescan: SECTIONS.rescan(),
    policy: SECTIONS.policy(),
    signing: SECTIONS.signing(),
    scan: SECTIONS.scan(),
    build: SECTIONS.build(),
    metrics: SECTIONS.metrics(),
    inventory: SECTIONS.inventory(),
    audit: SECTIONS.audit(),
    sync: SECTIONS.sync(),
  });

/** The whole configuration in one schema (every section built on first use): what a file is checked against when a section is invalid. */
export const configSchema = z.lazy(fullSchema);

export type Config = z.infer<ReturnType<typeof fullSchema>>;
export type RegistryConfig = z.infer<typeof registrySchema>;
export type WebhookSourceConfig = z.infer<ReturnType<typeof webhookSourceSchema>>;
export type IngestConfig = z.infer<ReturnType<typeof ingestSchema>>;
export type Credentials = z.infer<ReturnType<typeof credentialsSchema>>;
