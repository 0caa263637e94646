import { type FastifyInstance, type FastifyRequest } from 'fastify';
import { type Config, durationMs, type WebhookSourceConfig } from '../config';
import { ChainError } from '../errors';
import { type Logger } from '../log';
import { SIGNATURE_HEADER, TIMESTAMP_HEADER, verifySharedSecret, verifySignature } from './auth';
import { type DeliveryLog } from './delivery-log';
import { createEventFilter, type Verdict } from './filter';
import { type IngestMetrics } from './metrics';
import { parseDelivery } from './parse';
import { type IngestQueue, isQueued, type SubmitResult } from './queue';
import { webhookHttp } from './webhook-http';

export interface WebhookRoutesOptions {
  config: Config;
  queue: Pick<IngestQueue, 'submit'>;
  deliveryLog: DeliveryLog;
  metrics: IngestMetrics;
  logger: Logger;
}

/**
 * `POST /webhooks/:source` (one endpoint per configured source) and `GET /webhooks/deliveries`.
 * Registered in its own Fastify scope: bodies are read raw (for HMAC and exact JSON errors)
 * without touching how other plugins parse JSON.
 */
export async function webhookRoutes(app: FastifyInstance, options: WebhookRoutesOptions): Promise<void> {
  const { config, queue, deliveryLog, metrics, logger } = options;
  const sources = new Map(config.sources.map((s) => [s.name, { source: s, filter: createEventFilter(s, config.ingest) }]));
  const toleranceMs = durationMs(config.ingest.signatureTolerance);
  const { answer, answerError, answerUnavailable } = webhookHttp(app, {
    deliveryLog,
    metrics,
    logger,
    bodyLimitBytes: config.api.bodyLimitBytes,
    sourceOf: (request) => (request.params as { source?: string } | undefined)?.source ?? '',
  });

  // Unknown sources and bad secrets are refused before the body is read.
  app.addHook('onRequest', async (request: FastifyRequest<{ Params: { source?: string } }>, reply) => {
    if (request.method !== 'POST') return;
    const name = request.params.source ?? '';
    const entry = sources.get(name);
    if (!entry)
      return answerError(reply, name, new ChainError('NOT_FOUND', `no webhook source named "${name}"; configured: ${[...sources.keys()].join(', ')}`));
    try {
      verifySharedSecret(request.headers.authorization ?? queryToken(request, entry.source), entry.source.secret);
    } catch (err) {
      return answerError(reply, name, err as ChainError);
    }
  });

  app.post<{ Params: { source: string }; Body: Buffer }>('/webhooks/:source', async (request, reply) => {
    const sourceName = request.params.source;
    const entry = sources.get(sourceName);
    if (!entry) return answerError(reply, sourceName, new ChainError('NOT_FOUND', `no webhook source named "${sourceName}"`));
    const { source, filter } = entry;
    const raw = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
    let verdicts: Verdict[];
    try {
      if (source.hmacSecret) {
        verifySignature({ signature: header(request, SIGNATURE_HEADER), timestamp: header(request, TIMESTAMP_HEADER) }, raw, source.hmacSecret, toleranceMs);
      }
      const notices = parseDelivery(source.format, request.headers['content-type'], raw);
      metrics.received.inc({ source: sourceName }, notices.length);
      verdicts = notices.map((n) => filter(n));
    } catch (err) {
      if (err instanceof ChainError) return answerError(reply, sourceName, err);
      throw err;
    }

    const results: SubmitResult[] = [];
    const dropped: Record<string, number> = {};
    for (const verdict of verdicts) {
      if ('drop' in verdict) {
        dropped[verdict.drop] = (dropped[verdict.drop] ?? 0) + 1;
        continue;
      }
      try {
        // One at a time: two events of one digest in one envelope must see each other's marks.
        const submitted = await queue.submit(verdict.accept);
        results.push(submitted);
        const { registry, repository, digest, tags } = verdict.accept;
        logger.info({ source: sourceName, registry, repository, digest, tags, workflowId: submitted.workflowId, outcome: submitted.outcome }, 'push received');
      } catch (err) {
        logger.warn({ source: sourceName, err: (err as Error).message }, 'queue unavailable; asking the sender to retry');
        return answerUnavailable(reply, sourceName, verdicts.length);
      }
    }
    for (const r of results) if (!isQueued(r.outcome)) dropped[r.outcome] = (dropped[r.outcome] ?? 0) + 1;
    for (const [reason, count] of Object.entries(dropped)) metrics.dropped.inc({ source: sourceName, reason }, count);
    const queued = results.filter((r) => isQueued(r.outcome));
    metrics.accepted.inc({ source: sourceName }, queued.length);
    const workflowIds = [...new Set(results.map((r) => r.workflowId))];
    const outcome = queued.length ? 'accepted' : results.length ? 'duplicate' : 'dropped';
    // Every outcome says why: what was queued, and each kind of event that started nothing, counted.
    const why = Object.entries(dropped).map(([kind, count]) => `${count} ${kind}`);
    const reason = [...(queued.length ? [`${queued.length} queued`] : []), ...why].join(', ') || (verdicts.length ? undefined : 'no events in the delivery');
    return answer(reply, sourceName, {
      status: queued.length ? 202 : 200,
      outcome,
      ...(reason ? { reason } : {}),
      workflowIds,
      events: verdicts.length,
      body: { outcome, queued: queued.length, dropped, events: results.map((r) => ({ workflowId: r.workflowId, outcome: r.outcome })) },
    });
  });

  app.get<{ Querystring: { limit?: string } }>('/webhooks/deliveries', async (request, reply) => {
    const refused = refuseReader(request, config.api.adminToken);
    if (refused) return reply.code(refused.status).send({ error: refused.error.message, code: refused.error.code });
    const limit = Number(request.query.limit ?? 50);
    if (!Number.isInteger(limit) || limit < 1 || limit > 10_000)
      return reply.code(400).send({ error: 'limit must be an integer from 1 to 10000', code: 'BAD_INPUT' });
    try {
      return { deliveries: await deliveryLog.list(limit) };
    } catch {
      return reply.code(503).header('retry-after', '5').send({ error: 'the delivery log is unavailable; retry later', code: 'SERVICE_UNREACHABLE' });
    }
  });
}

/**
 * Who may read the delivery log (sources, workflow ids, errors): the holder of `api.adminToken`, or,
 * when none is configured, clients on loopback only.
 */
function refuseReader(request: FastifyRequest, adminToken: string | undefined): { status: number; error: ChainError } | undefined {
  if (adminToken === undefined) {
    if (isLoopback(request.ip)) return undefined;
    return {
      status: 403,
      error: new ChainError('DENIED', 'reading deliveries from another host needs api.adminToken (DCHAIN_API_ADMIN_TOKEN) set and sent as a Bearer token'),
    };
  }
  try {
    verifySharedSecret(request.headers.authorization, adminToken);
    return undefined;
  } catch {
    return { status: 401, error: new ChainError('UNAUTHORIZED', 'send api.adminToken as `Authorization: Bearer <token>`') };
  }
}

function isLoopback(ip: string): boolean {
  return ip === '::1' || /^(::ffff:)?127\./.test(ip);
}

function header(request: FastifyRequest, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** ACR triggers cannot send headers: their secret may come as `?token=` on the endpoint URL instead. */
function queryToken(request: FastifyRequest, source: WebhookSourceConfig): string | undefined {
  if (source.format !== 'acr') return undefined;
  const token = (request.query as Record<string, unknown> | undefined)?.token;
  return typeof token === 'string' ? token : undefined;
}
