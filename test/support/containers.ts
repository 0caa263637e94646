/**
 * The same test services through testcontainers, for machines with a Docker engine:
 * `TEST_SERVICES=containers npm test`. Images: the official Temporal CLI (dev server), Redis and the
 * CNCF distribution registry — the same software the local processes run.
 */
import { GenericContainer, type StartedTestContainer, TestContainers, Wait } from 'testcontainers';
import { type ServiceProcess } from '../../workers/local/managed-process';
import { type LocalRedis } from '../../workers/local/redis-server';
import { type LocalRegistry, type LocalRegistryOptions, registryConfig } from '../../workers/local/registry-server';
import { type TemporalDevServer } from '../../workers/local/temporal-dev-server';
import { SEARCH_ATTRIBUTE_TYPES } from '../../src/chain/search-attributes';

export const TEMPORAL_IMAGE = 'temporalio/temporal:1.9.1';
export const REDIS_IMAGE = 'redis:7.4-bookworm';
export const REGISTRY_IMAGE = 'registry:2.8.3';

class ContainerService implements ServiceProcess {
  readonly pid = undefined;
  private container: StartedTestContainer | undefined;

  constructor(
    readonly name: string,
    private readonly definition: () => GenericContainer,
  ) {}

  get running(): boolean {
    return this.container !== undefined;
  }

  async start(): Promise<void> {
    this.container = await this.definition().start();
  }

  async stop(): Promise<void> {
    await this.container?.stop();
    this.container = undefined;
  }

  async kill(): Promise<void> {
    await this.container?.stop({ timeout: 0 });
    this.container = undefined;
  }

  started(): StartedTestContainer {
    if (!this.container) throw new Error(`${this.name} is not running`);
    return this.container;
  }
}

/** Host ports the containers reach as host.testcontainers.internal (webhook receivers of the tests). */
async function hostReachable(url: string): Promise<string> {
  const parsed = new URL(url);
  if (!['127.0.0.1', 'localhost'].includes(parsed.hostname)) return url;
  await TestContainers.exposeHostPorts(Number(parsed.port));
  parsed.hostname = 'host.testcontainers.internal';
  return parsed.toString();
}

export async function redisContainer(): Promise<LocalRedis> {
  const service = new ContainerService('redis', () =>
    new GenericContainer(REDIS_IMAGE)
      .withCommand(['redis-server', '--appendonly', 'yes', '--maxmemory-policy', 'noeviction'])
      .withExposedPorts(6379)
      .withWaitStrategy(Wait.forLogMessage('Ready to accept connections')),
  );
  await service.start();
  const port = service.started().getMappedPort(6379);
  return { url: `redis://127.0.0.1:${port}`, port, process: service };
}

export async function registryContainer(options: Omit<LocalRegistryOptions, 'dataDir' | 'port'>): Promise<LocalRegistry> {
  const notify = options.notify ? { ...options.notify, url: await hostReachable(options.notify.url) } : undefined;
  const config = registryConfig({ ...options, ...(notify ? { notify } : {}) }, ':5000', '/var/lib/registry');
  const service = new ContainerService(`registry ${options.name}`, () =>
    new GenericContainer(REGISTRY_IMAGE)
      .withCopyContentToContainer([{ content: JSON.stringify(config), target: '/etc/docker/registry/config.yml' }])
      .withExposedPorts(5000)
      .withWaitStrategy(Wait.forHttp('/v2/', 5000).forStatusCodeMatching((s) => s === 200 || s === 401)),
  );
  await service.start();
  const port = service.started().getMappedPort(5000);
  return { name: options.name, url: `http://127.0.0.1:${port}`, host: `127.0.0.1:${port}`, port, process: service };
}

export async function temporalContainer(namespace = 'default'): Promise<TemporalDevServer> {
  const service = new ContainerService('temporal', () =>
    new GenericContainer(TEMPORAL_IMAGE)
      .withEnvironment({ TEMPORAL_VERSION_CHECK_DISABLED: '1' })
      .withCommand([
        'server',
        'start-dev',
        '--ip',
        '0.0.0.0',
        '--headless',
        '--namespace',
        namespace,
        ...Object.entries(SEARCH_ATTRIBUTE_TYPES).flatMap(([name, type]) => ['--search-attribute', `${name}=${type}`]),
      ])
      .withExposedPorts(7233)
      .withWaitStrategy(Wait.forListeningPorts()),
  );
  await service.start();
  return { address: `127.0.0.1:${service.started().getMappedPort(7233)}`, namespace, uiUrl: undefined, process: service };
}
