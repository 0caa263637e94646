/**
 * The admission webhook's check deadline, apart from the section's schema (admission.ts): the webhook process
 * needs it, and every command that loads src/config would otherwise build the admission schema at start-up.
 */
import { type AdmissionConfig } from './admission';

/**
 * How long the webhook keeps for itself out of the API server's timeout: answering, the TLS round trip and the
 * API server's own bookkeeping. One second proved too thin: a check cut at 4 s once reached kubectl as the API
 * server's "context deadline exceeded" (5.2 s) instead of the webhook's reason; so did 1.5 s once, a check cut
 * at 3.5 s (5.1 s, with the API server, etcd and the webhook on two cores).
 */
export const RESPONSE_MARGIN_MS = 2_000;

/** The check deadline the webhook uses: configured, or timeoutSeconds less the response margin. */
export function checkDeadlineOf(admission: Pick<AdmissionConfig, 'timeoutSeconds' | 'checkDeadlineMs'>): number {
  return admission.checkDeadlineMs ?? admission.timeoutSeconds * 1000 - RESPONSE_MARGIN_MS;
}
