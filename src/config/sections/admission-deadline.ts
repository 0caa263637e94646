/**
 * The admission webhook's check deadline, apart from the section's schema (admission.ts): the webhook process
 * needs it, and every command that loads src/config would otherwise build the admission schema at start-up.
 */
import { type AdmissionConfig } from './admission';

/**
 * How long the webhook keeps for itself out of the API server's timeout: answering, the TLS round trip and the
 * API server's own bookkeeping. It was raised from 1 s to 1.5 s and then 2 s after a hung registry reached
 * kubectl as the API server's "context deadline exceeded" (5.1–5.2 s) instead of the webhook's reason; the same
 * happened at 2 s, and the cause was a deadline lost to garbage collection (review-handler.ts), not the margin.
 * It stays at 2 s: on two cores beside the API server and etcd, a second is not much.
 */
export const RESPONSE_MARGIN_MS = 2_000;

/** The check deadline the webhook uses: configured, or timeoutSeconds less the response margin. */
export function checkDeadlineOf(admission: Pick<AdmissionConfig, 'timeoutSeconds' | 'checkDeadlineMs'>): number {
  return admission.checkDeadlineMs ?? admission.timeoutSeconds * 1000 - RESPONSE_MARGIN_MS;
}
