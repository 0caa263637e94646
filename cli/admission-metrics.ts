import { type FastifyInstance } from 'fastify';
import { type Server } from 'node:https';
import { Counter, Histogram } from 'prom-client';
import { processRegistry } from '../workers/process/metrics';

/**
 * GET /metrics on the admission webhook's own listener: decisions by outcome and review latency,
 * read off the answers /validate sends (the server stays the admission room's; this only observes).
 */
export function instrumentAdmission(app: FastifyInstance<Server>): void {
  const registry = processRegistry();
  const decisions = new Counter({
    name: 'dchain_admission_decisions_total',
    help: 'AdmissionReviews answered, by decision',
    labelNames: ['decision'] as const,
    registers: [registry],
  });
  const latency = new Histogram({
    name: 'dchain_admission_review_duration_seconds',
    help: 'Time to answer an AdmissionReview',
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5],
    registers: [registry],
  });
  app.addHook('onSend', async (request, reply, payload) => {
    if (request.url.startsWith('/validate') && typeof payload === 'string') {
      let decision = 'error';
      if (reply.statusCode === 200) {
        try {
          decision = (JSON.parse(payload) as { response?: { allowed?: boolean } }).response?.allowed ? 'allowed' : 'denied';
        } catch {
          decision = 'error';
        }
      }
      decisions.inc({ decision });
      latency.observe(reply.elapsedTime / 1000);
    }
    return payload;
  });
  app.get('/metrics', async (_request, reply) => reply.header('content-type', registry.contentType).send(await registry.metrics()));
}
