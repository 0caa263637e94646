/** Webhook payloads of every source format (distribution, Harbor, ACR, generic) with their content types. */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe } from 'node:test';
import { acceptedContentTypes, parseDelivery } from '../../src/ingest/parse';
import { fc, fuzzTarget, mutatedJson } from './harness';

const FIXTURES = join(__dirname, '..', 'fixtures', 'registry-events');
const captured = readdirSync(FIXTURES).map((f) => (JSON.parse(readFileSync(join(FIXTURES, f), 'utf8')) as { body: unknown }).body);
const d = `sha256:${'a'.repeat(64)}`;
const harbor = {
  type: 'PUSH_ARTIFACT',
  occur_at: 1700000000,
  operator: 'ci',
  event_data: {
    resources: [{ digest: d, tag: 'v1', resource_url: 'harbor.example/p/app:v1' }],
    repository: { name: 'app', namespace: 'p', repo_full_name: 'p/app' },
  },
};
const acr = {
  id: 'x',
  timestamp: '2026-01-01T00:00:00Z',
  action: 'push',
  target: { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: d, repository: 'app', tag: 'v1' },
  request: { host: 'r.azurecr.io' },
};
const generic = { registry: 'source', repository: 'app', digest: d, tags: ['v1'] };
const FORMATS = ['distribution', 'harbor', 'acr', 'generic'] as const;

void describe('fuzz: webhook payloads', () => {
  const contentType = fc.oneof(
    { weight: 8, arbitrary: fc.constantFrom(...FORMATS.flatMap((f) => acceptedContentTypes(f))) },
    { weight: 1, arbitrary: fc.string({ maxLength: 40 }) },
    { weight: 1, arbitrary: fc.constant(undefined) },
  );
  fuzzTarget(
    'webhook',
    // Each format mostly with bodies of its own shape (so parsing gets past the envelope), sometimes another's.
    fc.oneof(
      fc.tuple(fc.constant('distribution' as const), mutatedJson(captured), contentType),
      fc.tuple(fc.constant('harbor' as const), mutatedJson([harbor]), contentType),
      fc.tuple(fc.constant('acr' as const), mutatedJson([acr]), contentType),
      fc.tuple(fc.constant('generic' as const), mutatedJson([generic]), contentType),
      fc.tuple(fc.constantFrom(...FORMATS), mutatedJson([...captured, harbor, acr, generic]), contentType),
    ),
    ([format, body, type]) => parseDelivery(format, type, Buffer.from(body)),
    { runs: 300 },
  );
});
