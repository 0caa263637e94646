import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseConfig } from '../../../src/config/load';
import { type Config } from '../../../src/config/schema';

export const SECRET = 'test-webhook-secret-0123456789';
export const FIXTURES = join(__dirname, '..', '..', 'fixtures', 'registry-events');

/** A captured distribution notification: its body and content type. */
export function sample(name: string): { body: Record<string, unknown>; contentType: string } {
  const capture = JSON.parse(readFileSync(join(FIXTURES, `${name}.json`), 'utf8')) as { headers: Record<string, string>; body: Record<string, unknown> };
  return { body: capture.body, contentType: capture.headers['content-type'] ?? 'application/json' };
}

/** A configuration with one registry and sources of every format pointing at it. */
export function ingestConfig(
  overrides: { registryUrl?: string; redisUrl?: string; temporalAddress?: string; hmacSecret?: string; exclude?: string[] } = {},
): Config {
  return parseConfig({
    registries: [{ name: 'source', url: overrides.registryUrl ?? 'http://127.0.0.1:5000' }],
    sources: [
      { name: 'dist', registry: 'source', format: 'distribution', secret: SECRET, exclude: overrides.exclude ?? [] },
      { name: 'harbor', registry: 'source', format: 'harbor', secret: SECRET },
      { name: 'acr', registry: 'source', format: 'acr', secret: SECRET },
      { name: 'generic', registry: 'source', format: 'generic', secret: SECRET },
      ...(overrides.hmacSecret ? [{ name: 'signed', registry: 'source', format: 'generic', secret: SECRET, hmacSecret: overrides.hmacSecret }] : []),
    ],
    sync: { targets: [] },
    ...(overrides.redisUrl ? { redis: { url: overrides.redisUrl } } : {}),
    ...(overrides.temporalAddress ? { temporal: { address: overrides.temporalAddress } } : {}),
    ingest: { maxBackoff: '2s', retryFailed: { backoff: '1s', maxBackoff: '2s', maxRuns: 2 } },
  });
}

/** A distribution envelope with one manifest push of `digest` as `repository:tag`. */
export function manifestPush(repository: string, digest: string, tag: string | undefined, id: string, userAgent = 'skopeo/1.9.3'): Record<string, unknown> {
  return {
    events: [
      {
        id,
        timestamp: '2026-11-22T21:42:49.126642455Z',
        action: 'push',
        target: {
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          size: 345,
          digest,
          length: 345,
          repository,
          url: `http://127.0.0.1:5000/v2/${repository}/manifests/${digest}`,
          ...(tag ? { tag } : {}),
        },
        request: { id: `r-${id}`, addr: '127.0.0.1:1', host: '127.0.0.1:5000', method: 'PUT', useragent: userAgent },
        actor: {},
        source: { addr: 'vm:5000', instanceID: 'i' },
      },
    ],
  };
}
