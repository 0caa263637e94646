/**
 * `POST /webhooks/git/:source`: Git push webhooks of the configured build.gitSources. A verified
 * push that a build rule matches starts the source build's delivery chain and is answered 202;
 * other events and unmatched refs are answered 200 with the reason, so forges show them as delivered.
 */
import { type FastifyInstance, type FastifyReply } from 'fastify';
import { type Config } from '../../config/schema';
import { ChainError } from '../../errors/chain-error';
import { type Logger } from '../../log/logger';
import { buildRequestFromPush } from '../rules';
import { startBuildChain, type WorkflowStarter } from '../start-chain';
import { parseGitPush } from './payloads';
import { verifyGitDelivery } from './verify';

export interface StarterConnection {
  starter: WorkflowStarter;
  close(): Promise<void>;
}

export interface GitWebhookOptions {
  config: Config;
  logger: Logger;
  /** Connects to the orchestrator; called on the first push to build, and again after a failure. */
  connect: () => Promise<StarterConnection>;
}

const STATUS_OF: Partial<Record<string, number>> = { BAD_INPUT: 400, UNAUTHORIZED: 401, NOT_FOUND: 404, UNSUPPORTED_MEDIA_TYPE: 415, SERVICE_UNREACHABLE: 503 };

export async function gitWebhookRoutes(app: FastifyInstance, options: GitWebhookOptions): Promise<void> {
  const { config, logger } = options;
  const sources = new Map(config.build.gitSources.map((s) => [s.name, s]));
  if (sources.size > 0 && !config.registries.some((r) => r.name === config.build.staging.registry)) {
    throw new ChainError('CONFIG_INVALID', `build.staging.registry "${config.build.staging.registry}" is not a configured registry; Git pushes could not be built`);
  }
  let connection: Promise<StarterConnection> | undefined;
  const starter = async (): Promise<WorkflowStarter> => {
    connection ??= options.connect();
    try {
      return (await connection).starter;
    } catch (err) {
      connection = undefined;
      throw new ChainError('SERVICE_UNREACHABLE', `the orchestrator is unreachable: ${(err as Error).message}`, { cause: err });
    }
  };
  app.addHook('onClose', async () => {
    if (connection) await connection.then((c) => c.close()).catch(() => undefined);
  });

  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));

  const fail = (reply: FastifyReply, source: string, err: ChainError) => {
    const status = STATUS_OF[err.code] ?? 400;
    logger.warn({ source, code: err.code, err: err.message }, 'git webhook delivery refused');
    if (status === 503) void reply.header('retry-after', '5');
    return reply.code(status).send({ error: err.message, code: err.code });
  };

  app.post<{ Params: { source: string }; Body: Buffer }>('/webhooks/git/:source', async (request, reply) => {
    const name = request.params.source;
    const source = sources.get(name);
    try {
      if (!source) throw new ChainError('NOT_FOUND', `no Git webhook source named "${name}"; configured: ${[...sources.keys()].join(', ') || 'none'}`);
      const body = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
      verifyGitDelivery(source.format, request.headers, body, source.secret);
      const contentType = request.headers['content-type'] ?? '';
      if (!/^application\/json\b/i.test(contentType)) {
        throw new ChainError('UNSUPPORTED_MEDIA_TYPE', `content type "${contentType}" is not supported; set the webhook's content type to application/json`);
      }
      const parsed = parseGitPush(source.format, source.name, request.headers, body);
      if (parsed.kind === 'ignored') return reply.code(200).send({ outcome: 'ignored', reason: parsed.reason });
      const build = buildRequestFromPush(parsed.push, config.build.rules, config.build.staging);
      if (!build) return reply.code(200).send({ outcome: 'no-rule', reason: `no build rule matches ${parsed.push.ref}` });
      const started = await startBuildChain(await starter(), config, build);
      logger.info({ source: name, workflowId: started.workflowId, outcome: started.outcome, ref: build.ref, commit: build.commit, deliveryId: parsed.deliveryId }, 'source build chain');
      return reply.code(202).send({ outcome: started.outcome, workflowId: started.workflowId, repository: build.repository, tags: build.tags });
    } catch (err) {
      if (err instanceof ChainError) return fail(reply, name, err);
      throw err;
    }
  });
}
