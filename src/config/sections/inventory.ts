import { z } from 'zod';

/**
 * `inventory`: which API server the pod watcher (`dchain inventory watch`) lists and watches, and
 * which cluster name its records carry. The rescan reads the same settings to post ImageVulnerable
 * Events on the workloads that run a digest turned denied. Absent `kubernetes`: in-cluster defaults
 * (the mounted service-account token and CA, KUBERNETES_SERVICE_HOST).
 */
export const inventoryConfigSchema = z.strictObject({
  /** Name this cluster's records carry (several clusters can share one Redis). */
  cluster: z
    .string()
    .regex(/^[a-z0-9][a-z0-9.-]*$/, 'lowercase letters, digits, dots and dashes')
    .default('default'),
  kubernetes: z
    .strictObject({
      /** https://host:port of the API server. */
      server: z.url({ protocol: /^https$/ }),
      /** File holding the service account's bearer token (re-read on every (re)list: projected tokens rotate). */
      tokenFile: z.string().min(1),
      /** PEM CA bundle the API server's certificate chains to. */
      caFile: z.string().min(1).optional(),
      /** Skip TLS verification (throwaway test clusters only). */
      insecure: z.boolean().default(false),
    })
    .optional(),
  /** Post `ImageVulnerable` Events on owner workloads when a rescan denies a deployed digest. */
  events: z.boolean().default(true),
});

export type InventoryConfig = z.infer<typeof inventoryConfigSchema>;
