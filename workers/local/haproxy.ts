/**
 * haproxy on loopback in front of the replicated services: the webhook API replicas (HTTP, health
 * checked on /readyz; the address registries notify) and the Temporal frontends (gRPC as TCP:
 * clients hold one HTTP/2 connection, and reconnect through the balancer to a live frontend when
 * theirs dies). Backends are added by `setBackends` before start, since the API replicas start after
 * the registries must already know the address.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, ManagedProcess, portOpen, type ServiceProcess } from './managed-process';
import { requireTool } from './tools';

export interface Backends {
  /** host:port of each API replica. */
  api: string[];
  /** host:port of each Temporal frontend. */
  temporal: string[];
}

export interface LocalHaproxy {
  apiPort: number;
  temporalPort: number;
  process: ServiceProcess;
}

export function haproxyConfig(ports: { api: number; temporal: number }, backends: Backends): string {
  const servers = (prefix: string, addresses: string[], check: string) => addresses.map((a, i) => `  server ${prefix}-${i} ${a} ${check}`);
  return [
    'global',
    '  maxconn 4096',
    'defaults',
    '  timeout connect 2s',
    // Temporal long polls last up to 70 s, and gRPC keeps its connection open between calls.
    '  timeout client 10m',
    '  timeout server 10m',
    '',
    'frontend webhooks',
    '  mode http',
    `  bind 127.0.0.1:${ports.api}`,
    '  default_backend api',
    'backend api',
    '  mode http',
    '  balance roundrobin',
    '  option httpchk GET /readyz',
    // A replica that died between health checks: the request goes to the other one (the sender's own
    // retry covers what was already sent; the queue deduplicates deliveries).
    '  retry-on conn-failure empty-response response-timeout',
    '  retries 2',
    '  option redispatch 1',
    '  timeout server 30s',
    ...servers('api', backends.api, 'check inter 1s fall 2 rise 1'),
    '',
    'frontend temporal',
    '  mode tcp',
    `  bind 127.0.0.1:${ports.temporal}`,
    '  default_backend temporal-frontends',
    'backend temporal-frontends',
    '  mode tcp',
    '  balance leastconn',
    '  option redispatch 1',
    ...servers('frontend', backends.temporal, 'check inter 1s fall 2 rise 1 on-marked-down shutdown-sessions'),
    '',
  ].join('\n');
}

export async function startHaproxy(options: { dataDir: string; apiPort?: number; temporalPort?: number; backends: Backends }): Promise<LocalHaproxy> {
  const apiPort = options.apiPort ?? (await freePort());
  const temporalPort = options.temporalPort ?? (await freePort());
  const file = join(options.dataDir, 'haproxy.cfg');
  writeFileSync(file, haproxyConfig({ api: apiPort, temporal: temporalPort }, options.backends));
  const proc = new ManagedProcess({
    name: 'haproxy',
    command: requireTool('haproxy', 'Debian package haproxy'),
    // -db: stay in the foreground, log to stderr; -W: master-worker, so a stop reaches the worker too.
    args: ['-f', file, '-db', '-W'],
    logFile: join(options.dataDir, 'haproxy.log'),
    readyTimeoutMs: 20_000,
    ready: async () => (await portOpen(apiPort)) && (await portOpen(temporalPort)),
    // SIGUSR1 is haproxy's soft stop; SIGTERM its hard stop, which is what a stop should be here.
    stopSignal: 'SIGTERM',
  });
  await proc.start();
  return { apiPort, temporalPort, process: proc };
}
