import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect as connectTls } from 'node:tls';
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
  /** Serve HTTPS with this certificate and key (PEM files) instead of plain HTTP. */
  tls?: { certFile: string; keyFile: string };
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
  const url = `${options.tls ? 'https' : 'http'}://127.0.0.1:${port}`;
  const proc = new ManagedProcess({
    name: `registry ${options.name}`,
    command: binary,
    args: ['serve', configFile],
    ...(options.env ? { env: options.env } : {}),
    logFile: options.logFile ?? join(dir, 'registry.log'),
    detached: options.detached === true,
    readyTimeoutMs: 20_000,
    ready: async () => {
      // Whether it serves, not whom it is: the caller trusts (or tests not trusting) the certificate itself.
      if (options.tls) return tlsHandshakes(port);
      const res = await fetch(`${url}/v2/`, { signal: AbortSignal.timeout(1000) });
      await res.body?.cancel();
      return res.status === 200 || res.status === 401;
    },
  });
  await proc.start();
  return { name: options.name, url, host: `127.0.0.1:${port}`, port, process: proc };
}

/** Whether a TLS server on the loopback port completes a handshake within a second. */
function tlsHandshakes(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connectTls({ host: '127.0.0.1', port, rejectUnauthorized: false, timeout: 1000 });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.once('secureConnect', () => done(true));
    socket.once('error', () => done(false));
    socket.once('timeout', () => done(false));
  });
}

/** The distribution registry's configuration (JSON is YAML) for an address and a storage directory. */
export function registryConfig(
  options: Pick<LocalRegistryOptions, 'auth' | 'notify' | 'notifyBackoff' | 'tls'>,
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
    http: {
      addr,
      secret: randomBytes(16).toString('hex'),
      headers: { 'X-Content-Type-Options': ['nosniff'] },
      ...(options.tls ? { tls: { certificate: options.tls.certFile, key: options.tls.keyFile } } : {}),
    },
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
