import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, ManagedProcess, type ServiceProcess } from './managed-process';
import { requireTool } from './tools';

export interface RegistryNotificationTarget {
  url: string;
  /** Sent as `Authorization: Bearer <secret>` with every notification. */
  secret: string;
}

export type RegistryAuth =
  | { kind: 'none' }
  | { kind: 'htpasswd'; realm: string; path: string }
  | { kind: 'token'; realm: string; service: string; issuer: string; rootCertBundle: string };

export interface LocalRegistryOptions {
  name: string;
  dataDir: string;
  port?: number;
  notify?: RegistryNotificationTarget;
  auth?: RegistryAuth;
  /** Seconds the registry waits between notification retries. */
  notifyBackoff?: string;
  /** Where the registry's output goes; default <dataDir>/<name>/registry.log. */
  logFile?: string;
  /** Its own process group (see ManagedProcessOptions.detached). */
  detached?: boolean;
  /** The registry's environment (e.g. SSL_CERT_FILE: the CA it trusts when notifying an HTTPS endpoint). */
  env?: NodeJS.ProcessEnv;
}

export interface LocalRegistry {
  name: string;
  url: string;
  /** host:port, as skopeo and image references want it. */
  host: string;
  port: number;
  process: ServiceProcess;
}

/** Debian's docker-registry (CNCF distribution 2.8) on loopback, storing blobs under dataDir. */
export async function startRegistry(options: LocalRegistryOptions): Promise<LocalRegistry> {
  const binary = requireTool('docker-registry', 'Debian package docker-registry');
  const port = options.port ?? (await freePort());
  const dir = join(options.dataDir, options.name);
  mkdirSync(join(dir, 'storage'), { recursive: true });
  const config = registryConfig(options, `127.0.0.1:${port}`, join(dir, 'storage'));
  // JSON is YAML; the file holds the webhook secret, so only the owner reads it.
  const configFile = join(dir, 'config.yml');
  writeFileSync(configFile, JSON.stringify(config, null, 2), { mode: 0o600 });
  const url = `http://127.0.0.1:${port}`;
  const proc = new ManagedProcess({
    name: `registry ${options.name}`,
    command: binary,
    args: ['serve', configFile],
    ...(options.env ? { env: options.env } : {}),
    logFile: options.logFile ?? join(dir, 'registry.log'),
    detached: options.detached === true,
    readyTimeoutMs: 20_000,
    ready: async () => {
      const res = await fetch(`${url}/v2/`, { signal: AbortSignal.timeout(1000) });
      await res.body?.cancel();
      return res.status === 200 || res.status === 401;
    },
  });
  await proc.start();
  return { name: options.name, url, host: `127.0.0.1:${port}`, port, process: proc };
}

/** The distribution registry's configuration (JSON is YAML) for an address and a storage directory. */
export function registryConfig(
  options: Pick<LocalRegistryOptions, 'auth' | 'notify' | 'notifyBackoff'>,
  addr: string,
  storageDir: string,
): Record<string, unknown> {
  return {
    version: 0.1,
    log: { level: 'warn', formatter: 'json', accesslog: { disabled: true } },
    storage: {
      filesystem: { rootdirectory: storageDir },
      delete: { enabled: true },
      maintenance: { uploadpurging: { enabled: false } },
    },
    http: { addr, secret: randomBytes(16).toString('hex'), headers: { 'X-Content-Type-Options': ['nosniff'] } },
    ...authSection(options.auth ?? { kind: 'none' }),
    ...(options.notify
      ? {
          notifications: {
            events: { includereferences: true },
            endpoints: [
              {
                name: 'delivery-chain',
                url: options.notify.url,
                headers: { Authorization: [`Bearer ${options.notify.secret}`] },
                timeout: '2s',
                threshold: 3,
                backoff: options.notifyBackoff ?? '1s',
              },
            ],
          },
        }
      : {}),
  };
}

function authSection(auth: RegistryAuth): Record<string, unknown> {
  switch (auth.kind) {
    case 'none':
      return {};
    case 'htpasswd':
      return { auth: { htpasswd: { realm: auth.realm, path: auth.path } } };
    case 'token':
      return { auth: { token: { realm: auth.realm, service: auth.service, issuer: auth.issuer, rootcertbundle: auth.rootCertBundle } } };
  }
}
