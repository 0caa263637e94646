/**
 * `POST /webhooks/git/:source`: Git push webhooks of the configured build.gitSources. A verified
 * push that a build rule matches is queued durably (the same Redis queue, delivery log, metrics
 * and dead letters as registry pushes; the queue worker starts the source build's chain) and is
 * answered 202; other events and unmatched refs are answered 200 with the reason, so forges show
 * them as delivered. While Redis is down the answer is 503 and the forge retries.
 */
import { type FastifyInstance } from 'fastify';
import { type Config } from '../../config';
import { ChainError } from '../../errors';
import { type DeliveryLog, type IngestMetrics, type IngestQueue, webhookHttp } from '../../ingest';
import { type Logger } from '../../log';
import { buildRequestFromPush } from '../rules';
import { parseGitPush } from './payloads';
import { verifyGitDelivery } from './verify';

export interface GitWebhookOptions {
  config: Config;
  logger: Logger;
  queue: Pick<IngestQueue, 'submitBuild'>;
  deliveryLog: DeliveryLog;
  metrics: IngestMetrics;
}

export async function gitWebhookRoutes(app: FastifyInstance, options: GitWebhookOptions): Promise<void> {
  const { config, logger, queue, metrics } = options;
  const sources = new Map(config.build.gitSources.map((s) => [s.name, s]));
  if (sources.size > 0 && !config.registries.some((r) => r.name === config.build.staging.registry)) {
    throw new ChainError(
      'CONFIG_INVALID',
      `build.staging.registry "${config.build.staging.registry}" is not a configured registry; Git pushes could not be built`,
    );
  }
  // Git sources are logged and counted as `git/<name>`, apart from registry sources of the same name.
  const label = (name: string) => `git/${name}`;
  const { answer, answerError, answerUnavailable } = webhookHttp(app, {
    deliveryLog: options.deliveryLog,
    metrics,
    logger,
    bodyLimitBytes: config.api.bodyLimitBytes,
    sourceOf: (request) => label((request.params as { source?: string } | undefined)?.source ?? ''),
  });

  app.post<{ Params: { source: string }; Body: Buffer }>('/webhooks/git/:source', async (request, reply) => {
    const name = request.params.source;
    const source = sources.get(name);
    let build;
    let deliveryId: string | undefined;
    try {
      if (!source) throw new ChainError('NOT_FOUND', `no Git webhook source named "${name}"; configured: ${[...sources.keys()].join(', ') || 'none'}`);
      const body = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
      verifyGitDelivery(source.format, request.headers, body, source.secret);
      const contentType = request.headers['content-type'] ?? '';
      if (!/^application\/json\b/i.test(contentType)) {
        throw new ChainError('UNSUPPORTED_MEDIA_TYPE', `content type "${contentType}" is not supported; set the webhook's content type to application/json`);
      }
      const parsed = parseGitPush(source.format, source.name, request.headers, body);
      metrics.received.inc({ source: label(name) });
      if (parsed.kind === 'ignored') {
        metrics.dropped.inc({ source: label(name), reason: 'ignored' });
        return answer(reply, label(name), { status: 200, outcome: 'ignored', body: { outcome: 'ignored', reason: parsed.reason }, events: 1 });
      }
      build = buildRequestFromPush(parsed.push, config.build.rules, config.build.staging);
      if (!build) {
        metrics.dropped.inc({ source: label(name), reason: 'no-rule' });
        return answer(reply, label(name), {
          status: 200,
          outcome: 'no-rule',
          body: { outcome: 'no-rule', reason: `no build rule matches ${parsed.push.ref}` },
          events: 1,
        });
      }
      deliveryId = parsed.deliveryId;
    } catch (err) {
      if (err instanceof ChainError) return answerError(reply, label(name), err);
      throw err;
    }
    let submitted;
    try {
      submitted = await queue.submitBuild(build, name, deliveryId);
    } catch (err) {
      logger.warn({ source: name, err: (err as Error).message }, 'queue unavailable; asking the forge to retry');
      return answerUnavailable(reply, label(name), 1);
    }
    const queued = submitted.outcome === 'queued';
    if (queued) metrics.accepted.inc({ source: label(name) });
    else metrics.dropped.inc({ source: label(name), reason: submitted.outcome });
    logger.info(
      { source: name, workflowId: submitted.workflowId, outcome: submitted.outcome, ref: build.ref, commit: build.commit, deliveryId },
      'source build queued',
    );
    return answer(reply, label(name), {
      status: queued ? 202 : 200,
      outcome: queued ? 'accepted' : 'duplicate',
      workflowIds: [submitted.workflowId],
      events: 1,
      body: { outcome: submitted.outcome, workflowId: submitted.workflowId, repository: build.repository, tags: build.tags },
    });
  });
}
