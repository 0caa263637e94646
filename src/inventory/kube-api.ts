/**
 * A small Kubernetes API client over plain HTTPS with a bearer token: GET, POST, and list + watch
 * (newline-delimited JSON). Only what the inventory needs; every body is checked with zod by callers.
 */
import { readFileSync } from 'node:fs';
import { request, type RequestOptions } from 'node:https';
import { ChainError } from '../errors';
import { type InventoryConfig } from '../config';

const IN_CLUSTER = '/var/run/secrets/kubernetes.io/serviceaccount';

export interface KubeApiSettings {
  server: string;
  tokenFile: string;
  caFile?: string;
  insecure: boolean;
}

/** The configured API server, or the in-cluster one (mounted service-account token and CA). */
export function kubeApiSettings(config: InventoryConfig): KubeApiSettings {
  if (config.kubernetes) return config.kubernetes;
  const host = process.env.KUBERNETES_SERVICE_HOST;
  const port = process.env.KUBERNETES_SERVICE_PORT ?? '443';
  if (!host) throw new ChainError('CONFIG_INVALID', 'inventory.kubernetes is not set and this process is not in a cluster (no KUBERNETES_SERVICE_HOST)');
  return {
    server: `https://${host.includes(':') ? `[${host}]` : host}:${port}`,
    tokenFile: `${IN_CLUSTER}/token`,
    caFile: `${IN_CLUSTER}/ca.crt`,
    insecure: false,
  };
}

export class KubeApiError extends ChainError {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(
      status === 404 ? 'NOT_FOUND' : status === 401 || status === 403 ? 'UNAUTHORIZED' : status >= 500 || status === 429 ? 'TRANSIENT' : 'BAD_INPUT',
      message,
    );
  }
}

export class KubeApi {
  private readonly ca: string | undefined;

  constructor(private readonly settings: KubeApiSettings) {
    this.ca = settings.caFile ? readFileSync(settings.caFile, 'utf8') : undefined;
  }

  private options(method: string, path: string, signal?: AbortSignal): RequestOptions {
    // Re-read each time: projected service-account tokens are rotated by the kubelet.
    let token: string;
    try {
      token = readFileSync(this.settings.tokenFile, 'utf8').trim();
    } catch (cause) {
      throw new ChainError('CONFIG_INVALID', `cannot read the Kubernetes token file ${this.settings.tokenFile}`, { cause });
    }
    const url = new URL(path, this.settings.server);
    return {
      method,
      host: url.hostname.replace(/^\[|\]$/g, ''),
      port: url.port || 443,
      path: `${url.pathname}${url.search}`,
      headers: { authorization: `Bearer ${token}`, accept: 'application/json', 'content-type': 'application/json' },
      ...(this.ca ? { ca: this.ca } : {}),
      rejectUnauthorized: !this.settings.insecure,
      ...(signal ? { signal } : {}),
    };
  }

  /** One request; the parsed JSON body, or a KubeApiError naming the status and the server's message. */
  async call(method: 'GET' | 'POST' | 'PATCH', path: string, body?: unknown): Promise<unknown> {
    const options = this.options(method, path);
    if (method === 'PATCH') (options.headers as Record<string, string>)['content-type'] = 'application/merge-patch+json';
    return new Promise((resolve, reject) => {
      const req = request(options, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.on('end', () => {
          const status = res.statusCode ?? 0;
          let parsed: unknown;
          try {
            parsed = text ? JSON.parse(text) : undefined;
          } catch {
            parsed = undefined;
          }
          if (status >= 200 && status < 300) return resolve(parsed);
          const message = (parsed as { message?: string } | undefined)?.message ?? text.slice(0, 200);
          reject(new KubeApiError(status, `Kubernetes API ${method} ${path}: ${status} ${message}`));
        });
      });
      req.setTimeout(30_000, () => req.destroy(new ChainError('TRANSIENT', `Kubernetes API ${method} ${path}: no answer within 30 s`)));
      req.on('error', (err) =>
        reject(
          err instanceof ChainError ? err : new ChainError('SERVICE_UNREACHABLE', `Kubernetes API ${this.settings.server}: ${err.message}`, { cause: err }),
        ),
      );
      req.end(body === undefined ? undefined : JSON.stringify(body));
    });
  }

  /**
   * Streams a watch: calls `onEvent` for each event line, resolves when the server ends the stream
   * (its timeout) or `signal` aborts. A non-2xx answer rejects with a KubeApiError.
   */
  watch(path: string, onEvent: (event: unknown) => Promise<void>, signal: AbortSignal): Promise<void> {
    const options = this.options('GET', path, signal);
    return new Promise((resolve, reject) => {
      const req = request(options, (res) => {
        const status = res.statusCode ?? 0;
        if (status < 200 || status >= 300) {
          res.resume();
          return reject(new KubeApiError(status, `Kubernetes API watch ${path}: ${status}`));
        }
        res.setEncoding('utf8');
        let buffer = '';
        // Events are handled one at a time, in order: the stream is paused while one is handled.
        let chain = Promise.resolve();
        res.on('data', (d: string) => {
          buffer += d;
          let nl: number;
          while ((nl = buffer.indexOf('\n')) >= 0) {
            const line = buffer.slice(0, nl).trim();
            buffer = buffer.slice(nl + 1);
            if (!line) continue;
            let event: unknown;
            try {
              event = JSON.parse(line);
            } catch (cause) {
              req.destroy(new ChainError('BAD_INPUT', `Kubernetes API watch ${path}: a line is not JSON`, { cause }));
              return;
            }
            res.pause();
            chain = chain
              .then(() => onEvent(event))
              .then(
                () => void res.resume(),
                (err: unknown) => void req.destroy(err as Error),
              );
          }
        });
        res.on('end', () => void chain.then(() => resolve(), reject));
        res.on('error', (err) => (signal.aborted ? resolve() : reject(err)));
      });
      req.on('error', (err) => {
        if (signal.aborted) return resolve();
        reject(err instanceof ChainError ? err : new ChainError('SERVICE_UNREACHABLE', `Kubernetes API watch ${path}: ${err.message}`, { cause: err }));
      });
      req.end();
    });
  }
}
