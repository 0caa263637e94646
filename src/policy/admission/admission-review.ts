import { z } from 'zod';

/**
 * The parts of an `admission.k8s.io/v1` AdmissionReview the webhook reads. Objects are kept loose
 * (Kubernetes adds fields over time); only what admission decides on is checked strictly.
 */
export const admissionReviewSchema = z.object({
  apiVersion: z.literal('admission.k8s.io/v1'),
  kind: z.literal('AdmissionReview'),
  request: z.object({
    uid: z.string().min(1),
    kind: z.object({ group: z.string(), version: z.string(), kind: z.string() }),
    namespace: z.string().optional(),
    name: z.string().optional(),
    operation: z.enum(['CREATE', 'UPDATE', 'DELETE', 'CONNECT']),
    object: z.unknown().optional(),
    /** The object before an UPDATE: images it already ran are not checked again. */
    oldObject: z.unknown().optional(),
    dryRun: z.boolean().optional(),
  }),
});

export interface AdmissionResponse {
  uid: string;
  allowed: boolean;
  status?: { code: number; reason?: string; message: string };
  warnings?: string[];
}

/** Kubernetes shows at most a handful of warnings usefully; keep answers small. */
const MAX_WARNINGS = 20;

export function reviewResponse(response: AdmissionResponse): { apiVersion: 'admission.k8s.io/v1'; kind: 'AdmissionReview'; response: AdmissionResponse } {
  const warnings = response.warnings?.slice(0, MAX_WARNINGS);
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    response: { ...response, ...(warnings?.length ? { warnings } : { warnings: undefined }) },
  };
}

/** The uid of a request that failed validation, when one can be read, so the answer still pairs with it. */
export function uidOf(body: unknown): string | undefined {
  const request = (body as { request?: { uid?: unknown } } | null)?.request;
  return typeof request?.uid === 'string' && request.uid !== '' ? request.uid : undefined;
}
