import Fastify, { type FastifyInstance } from 'fastify';
import { type Server } from 'node:https';
import { checkDeadlineOf } from '../../config';
import { type Logger } from '../../log';
import { reviewResponse } from './admission-review';
import { ImageAdmission, type ImageAdmissionDeps } from './image-admission';
import { answerReview } from './review-handler';

export interface AdmissionServerDeps extends ImageAdmissionDeps {
  /** PEM certificate (chain) and key the API server trusts through the webhook's caBundle. */
  tls: { cert: string | Buffer; key: string | Buffer };
  logger?: Logger;
  /** Per-request check budget, shorter than the webhook's timeoutSeconds (see checkDeadlineOf). */
  checkDeadlineMs?: number;
  bodyLimitBytes?: number;
  /** Runs when the server closes, after the checks still running were cancelled (registry connections, Redis). */
  onClose?: () => Promise<void> | void;
}

/**
 * The validating admission webhook: POST /validate takes an AdmissionReview v1 and answers one;
 * GET /healthz for probes. Subscribes to the decision store's invalidations so cached decisions
 * of a digest are dropped when it is rescanned or decided again; while that subscription is down
 * nothing cached is trusted (invalidations may be missed). Closing cancels the checks in flight,
 * so a hung registry never holds up shutdown. Call `listen` on the result.
 */
export async function buildAdmissionServer(deps: AdmissionServerDeps): Promise<FastifyInstance<Server>> {
  const images = new ImageAdmission(deps);
  // The default webhook timeout's budget (timeoutSeconds 5).
  const deadlineMs = deps.checkDeadlineMs ?? checkDeadlineOf({ timeoutSeconds: 5 });
  const shutdown = new AbortController();
  const app = Fastify({
    https: { cert: deps.tls.cert, key: deps.tls.key },
    bodyLimit: deps.bodyLimitBytes ?? 3 * 1024 * 1024,
    // No per-request logger: a pino child per request (with redaction) halves throughput. Denials and
    // failures are logged below through deps.logger.
    logger: false,
    // Keep-alive connections of the API server would otherwise hold close() open.
    forceCloseConnections: true,
  }) as unknown as FastifyInstance<Server>;

  let down = false;
  const unsubscribe = !deps.decisions
    ? async () => undefined
    : await deps.decisions.subscribe(
        {
          onInvalidate: (digest) => images.invalidate(digest),
          onReset: () => {
            if (down) deps.logger?.info({ store: deps.decisionStoreName }, 'decision store reachable again');
            down = false;
            images.clear();
          },
          onDown: () => {
            if (!down)
              deps.logger?.warn({ store: deps.decisionStoreName }, 'decision store unreachable: cached decisions dropped, images refused until it is back');
            down = true;
            images.clear();
          },
        },
        { background: true },
      );
  app.addHook('preClose', async () => {
    shutdown.abort(new Error('the webhook is shutting down'));
  });
  app.addHook('onClose', async () => {
    await unsubscribe();
    await deps.onClose?.();
  });

  app.get('/healthz', async () => ({ ok: true }));
  app.post('/validate', async (request, reply) => {
    const response = await answerReview(request.body, images, deadlineMs, shutdown.signal);
    if (response === undefined) {
      return reply.code(400).send({ error: 'request body is not an AdmissionReview with a request.uid' });
    }
    if (!response.allowed) deps.logger?.info({ uid: response.uid, message: response.status?.message }, 'admission denied');
    return reviewResponse(response);
  });
  app.setErrorHandler((err: { statusCode?: number; message: string }, _request, reply) => {
    const status = err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
    if (status === 500) deps.logger?.error({ err }, 'admission request failed');
    void reply.code(status).send({ error: status === 500 ? 'internal error' : err.message });
  });
  return app;
}
