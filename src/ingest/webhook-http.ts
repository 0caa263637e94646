/**
 * The HTTP layer every webhook endpoint shares — registry pushes (`/webhooks/:source`) and Git
 * pushes (`/webhooks/git/:source`): raw bodies (for signatures), the body limit's and Fastify's
 * errors mapped to JSON 4xx answers, one error-code → status map, the delivery log and the
 * delivery counters. The durable queue behind both is IngestQueue.
 */
import { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { ChainError } from '../errors';
import { type Logger } from '../log';
import { type DeliveryEntry, type DeliveryLog } from './delivery-log';
import { type IngestMetrics } from './metrics';

export interface WebhookAnswer {
  status: number;
  outcome: string;
  body: Record<string, unknown>;
  workflowIds?: string[];
  events?: number;
}

const STATUS_OF: Partial<Record<string, number>> = {
  BAD_INPUT: 400,
  UNAUTHORIZED: 401,
  NOT_FOUND: 404,
  UNSUPPORTED_MEDIA_TYPE: 415,
  TOO_LARGE: 413,
  SERVICE_UNREACHABLE: 503,
};
const OUTCOME_OF: Record<number, string> = {
  400: 'bad-request',
  401: 'unauthorized',
  404: 'unknown-source',
  413: 'too-large',
  415: 'unsupported-media-type',
  503: 'unavailable',
};

export interface WebhookResponder {
  /** Answers a delivery, logging it and counting it under `source` (prefix Git sources with `git/`). */
  answer(reply: FastifyReply, source: string, a: WebhookAnswer): FastifyReply;
  /** Answers a refused delivery with the error's status and message. */
  answerError(reply: FastifyReply, source: string, err: ChainError): FastifyReply;
  /** The queue is unreachable: 503 with Retry-After, so the sender retries. */
  answerUnavailable(reply: FastifyReply, source: string, events: number): FastifyReply;
}

export interface WebhookHttpOptions {
  deliveryLog: DeliveryLog;
  metrics: IngestMetrics;
  logger: Logger;
  bodyLimitBytes: number;
  /** The delivery's source name from its request, for errors raised before the route runs. */
  sourceOf: (request: FastifyRequest) => string;
}

/** Sets up raw bodies and error mapping in the (encapsulated) scope `app`, and returns its responder. */
export function webhookHttp(app: FastifyInstance, options: WebhookHttpOptions): WebhookResponder {
  const { deliveryLog, metrics, logger } = options;
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));

  const responder: WebhookResponder = {
    answer(reply, source, a) {
      metrics.deliveries.inc({ source, status: String(a.status) });
      const entry: DeliveryEntry = {
        time: new Date().toISOString(),
        source,
        status: a.status,
        outcome: a.outcome,
        workflowIds: a.workflowIds ?? [],
        events: a.events ?? 0,
        ...(typeof a.body.error === 'string' ? { error: a.body.error } : {}),
      };
      deliveryLog.record(entry);
      if (a.status === 503) void reply.header('retry-after', '5');
      return reply.code(a.status).send(a.body);
    },
    answerError(reply, source, err) {
      const status = STATUS_OF[err.code] ?? 400;
      return responder.answer(reply, source, { status, outcome: OUTCOME_OF[status] ?? 'rejected', body: { error: err.message, code: err.code } });
    },
    answerUnavailable(reply, source, events) {
      return responder.answer(reply, source, {
        status: 503,
        outcome: 'unavailable',
        body: { error: 'the event queue is unavailable; retry later', code: 'SERVICE_UNREACHABLE' },
        events,
      });
    },
  };

  app.setErrorHandler((error: Error & { statusCode?: number; code?: string }, request, reply) => {
    const source = options.sourceOf(request);
    if (error.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      return responder.answerError(reply, source, new ChainError('TOO_LARGE', `body is larger than the limit of ${options.bodyLimitBytes} bytes`));
    }
    if (error.statusCode !== undefined && error.statusCode < 500) {
      return responder.answerError(reply, source, new ChainError('BAD_INPUT', error.message));
    }
    logger.error({ err: error, source }, 'webhook delivery failed');
    return responder.answer(reply, source, { status: 500, outcome: 'error', body: { error: 'internal error', code: 'INTERNAL' } });
  });
  return responder;
}
