/**
 * The control API plugin (`/v1`): registered by the API process next to the webhook routes, in its
 * own Fastify scope (JSON bodies, problem+json errors) so the webhook routes keep their raw bodies.
 */
import { type Client } from '@temporalio/client';
import { type FastifyInstance } from 'fastify';
import { type Redis } from 'ioredis';
import { TokenStore } from '../../src/access';
import { AuditLog } from '../../src/audit';
import { type Config } from '../../src/config';
import { type IngestQueue } from '../../src/ingest';
import { type Logger } from '../../src/log';
import { RegistryDirectory } from '../../src/registry';
import { openApiDocument } from './openapi';
import { registerRoute, sendProblem } from './route';
import { controlRoutes } from './routes';

export interface ControlApiOptions {
  config: Config;
  logger: Logger;
  redis: Redis;
  client: Client;
  queue: Pick<IngestQueue, 'submit'>;
}

export async function controlApi(app: FastifyInstance, options: ControlApiOptions): Promise<void> {
  const { config, logger, redis } = options;
  const audit = new AuditLog(redis, config.audit);
  const tokens = new TokenStore(redis);
  const registries = new RegistryDirectory(config.registries, { logger });
  app.addHook('onClose', () => registries.close());
  const routes = controlRoutes({ ...options, audit, tokens, registries });
  const document = openApiDocument(routes, { version: '1', ...(config.api.publicUrl ? { serverUrl: config.api.publicUrl } : {}) });
  // The document is public: it describes the API, grants nothing.
  app.get('/v1/openapi.json', async () => document);
  for (const route of routes) registerRoute(app, route, { tokens, audit, logger });
  // Errors Fastify raises before a route runs (unparseable JSON, a wrong content type, a body too large).
  app.setErrorHandler((error: Error & { statusCode?: number; code?: string }, _request, reply) => {
    const status = error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 500;
    if (status === 500) logger.error({ err: error }, 'control API error');
    return sendProblem(
      reply,
      '-',
      status,
      status === 413 ? 'TOO_LARGE' : status === 500 ? 'INTERNAL' : 'BAD_INPUT',
      status === 500 ? 'internal error' : error.message,
    );
  });
  app.setNotFoundHandler((request, reply) => sendProblem(reply, '-', 404, 'NOT_FOUND', `no route ${request.method} ${request.url.split('?')[0]}`));
}
