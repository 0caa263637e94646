import { z } from 'zod';
import { durationSchema } from '../duration';

const port = z.number().int().min(1).max(65535);

/**
 * `policy.admission`: the webhook process. One setting, `timeoutSeconds`, is the manifest's
 * `timeoutSeconds` (deploy/kubernetes/admission-webhook.yaml keeps them equal, a test checks it);
 * the per-request check deadline is derived from it so the webhook always answers before the API
 * server gives up — a user then reads the webhook's reason, not "context deadline exceeded".
 */
export const admissionConfigSchema = z
  .strictObject({
    host: z.string().default('0.0.0.0'),
    port: port.default(8443),
    /** PEM certificate and key of the webhook's HTTPS listener (a Kubernetes TLS secret's tls.crt / tls.key). */
    tlsCertFile: z.string().min(1).optional(),
    tlsKeyFile: z.string().min(1).optional(),
    /** The ValidatingWebhookConfiguration's timeoutSeconds (Kubernetes allows 1–30). */
    timeoutSeconds: z.number().int().min(2).max(30).default(5),
    /** Per-request check budget; absent = timeoutSeconds less a one-second margin. Must stay below timeoutSeconds. */
    checkDeadlineMs: z.number().int().positive().optional(),
    decisionCacheTtlMs: z.number().int().positive().default(60_000),
    signatureCacheTtlMs: z.number().int().positive().default(300_000),
    /**
     * Registry hosts (host[:port], as image references write them) images may come from; absent = the
     * registries of `sources` and `sync.targets` (every configured registry when neither names one).
     */
    allowedRegistries: z.array(z.string().min(1)).min(1).optional(),
    /**
     * When Redis (the decision store) cannot be reached: 0 (default) refuses every image with the outage
     * named (fail closed); N > 0 keeps answering from decisions read at most N ms ago, with a warning.
     */
    serveCachedDecisionsOnOutageMs: z.number().int().min(0).max(3_600_000).default(0),
    /**
     * decision-store: the chain's Redis decides (revocations apply at once); registry-only: no Redis, the
     * image's newest SLSA verification summary signed by a trusted key decides (revocations apply within summaryMaxAge).
     */
    mode: z.enum(['decision-store', 'registry-only']).default('decision-store'),
    /** Registry-only mode: the newest PASSED summary must be younger than this (the rescan re-verifies daily). */
    summaryMaxAge: durationSchema.default('26h'),
  })
  .refine((a) => a.checkDeadlineMs === undefined || a.checkDeadlineMs < a.timeoutSeconds * 1000, {
    message: 'checkDeadlineMs must be shorter than timeoutSeconds, or the API server gives up before the webhook answers',
    path: ['checkDeadlineMs'],
  })
  .prefault({});

export type AdmissionConfig = z.infer<typeof admissionConfigSchema>;
