/**
 * The one place registries are looked up: configured name ⇄ host ⇄ client. Chains name registries
 * by their configured name, image references and policies by host[:port]; every stage, admission
 * and the CLI resolve either through a directory, and share one client per registry.
 */
import { type RegistryConfig } from '../config';
import { ChainError } from '../errors';
import { type Logger } from '../log';
import { RegistryClient } from './client';
import { type RetryPolicy } from './retry';

export interface DirectoryOptions {
  logger?: Logger;
  /** Sent with every request of this directory's clients (the sync stage's marks its own pushes). */
  userAgent?: string;
  retry?: RetryPolicy;
  /** Caps each request's timeout (admission: never longer than a check's budget). */
  maxTimeoutMs?: number;
}

/** host[:port] of a configured registry's URL. */
export function registryHost(registry: Pick<RegistryConfig, 'url'>): string {
  return new URL(registry.url).host;
}

export class RegistryDirectory {
  private readonly clients = new Map<string, RegistryClient>();

  constructor(
    readonly registries: readonly RegistryConfig[],
    private readonly options: DirectoryOptions = {},
  ) {}

  /** The configured registry named `nameOrHost`, or the one at that host[:port]. */
  find(nameOrHost: string): RegistryConfig | undefined {
    return this.registries.find((r) => r.name === nameOrHost) ?? this.registries.find((r) => registryHost(r) === nameOrHost);
  }

  /** Like find, but a registry that is not configured is an error naming it and the configured ones. */
  get(nameOrHost: string): RegistryConfig {
    const found = this.find(nameOrHost);
    if (!found)
      throw new ChainError(
        'BAD_INPUT',
        `no registry named "${nameOrHost}" in the configuration (configured: ${this.registries.map((r) => `${r.name} at ${registryHost(r)}`).join(', ') || 'none'})`,
      );
    return found;
  }

  /** The host[:port] images of a registry are referenced by; a name not configured is taken as a host already. */
  hostOf(nameOrHost: string): string {
    const found = this.find(nameOrHost);
    return found ? registryHost(found) : nameOrHost;
  }

  /** The client of a configured registry (by name or host), one per registry for the directory's lifetime. */
  client(nameOrHost: string): RegistryClient {
    const registry = this.get(nameOrHost);
    let client = this.clients.get(registry.name);
    if (!client) {
      const { logger, userAgent, retry, maxTimeoutMs } = this.options;
      const timeoutMs = maxTimeoutMs === undefined ? registry.timeoutMs : Math.min(registry.timeoutMs, maxTimeoutMs);
      client = RegistryClient.fromConfig(
        { ...registry, timeoutMs },
        { ...(logger ? { logger } : {}), ...(userAgent ? { userAgent } : {}), ...(retry ? { retry } : {}) },
      );
      this.clients.set(registry.name, client);
    }
    return client;
  }

  async close(): Promise<void> {
    await Promise.all([...this.clients.values()].map((c) => c.close().catch(() => undefined)));
    this.clients.clear();
  }
}
