/**
 * Webhook load: autocannon POSTs distribution push notifications, each naming a digest never sent
 * before, so every request is a new event the API must enqueue durably.
 */
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';

interface AutocannonRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: string;
}
/** The part of autocannon's API used here (the package ships no type declarations). */
type Autocannon = (options: {
  url: string;
  connections: number;
  duration: number;
  requests: Array<{ method: string; path: string; headers: Record<string, string>; setupRequest: (req: AutocannonRequest) => AutocannonRequest }>;
}) => Promise<{ '2xx': number; non2xx: number; errors: number; duration: number; latency: { p50: number; p99: number } }>;
const autocannon = createRequire(__filename)('autocannon') as Autocannon;

export const WEBHOOK_SECRET = 'bench-webhook-secret-0123456789';
const CONTENT_TYPE = 'application/vnd.docker.distribution.events.v1+json';

let sequence = 0;
/** A distribution envelope with one manifest push of a digest never sent before. */
function nextEnvelope(): string {
  const n = sequence++;
  const digest = `sha256:${createHash('sha256').update(`bench-${n}`).digest('hex')}`;
  return JSON.stringify({
    events: [
      {
        id: `bench-${n}`,
        timestamp: new Date().toISOString(),
        action: 'push',
        target: {
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          size: 345,
          digest,
          length: 345,
          repository: `bench/app-${n % 50}`,
          url: `http://127.0.0.1:5000/v2/bench/app-${n % 50}/manifests/${digest}`,
          tag: `t${n}`,
        },
        request: { id: `r-${n}`, addr: '127.0.0.1:1', host: '127.0.0.1:5000', method: 'PUT', useragent: 'skopeo/1.9.3' },
        actor: {},
        source: { addr: 'bench:5000', instanceID: 'bench' },
      },
    ],
  });
}

export interface Run {
  accepted: number;
  perSecond: number;
  p50: number;
  p99: number;
  failures: number;
}

/** `seconds` of POSTs of new push notifications to http://127.0.0.1:<port><path> over `connections` connections. */
export async function load(port: number, path: string, seconds: number, options: { secret?: string; connections?: number } = {}): Promise<Run> {
  const result = await autocannon({
    url: `http://127.0.0.1:${port}`,
    connections: options.connections ?? 16,
    duration: seconds,
    requests: [
      {
        method: 'POST',
        path,
        headers: { 'content-type': CONTENT_TYPE, authorization: `Bearer ${options.secret ?? WEBHOOK_SECRET}` },
        setupRequest: (req) => ({ ...req, body: nextEnvelope() }),
      },
    ],
  });
  return {
    accepted: result['2xx'],
    perSecond: result['2xx'] / result.duration,
    p50: result.latency.p50,
    p99: result.latency.p99,
    failures: result.non2xx + result.errors,
  };
}
