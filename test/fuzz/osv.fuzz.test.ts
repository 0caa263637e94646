/** OSV records: validation at import, indexing, and matching packages with every ecosystem's version rules. */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe } from 'node:test';
import { ChainError } from '../../src/errors/chain-error';
import { matchPackages, OsvDatabase, osvRecordSchema } from '../../src/scan/osv';
import { type Package } from '../../src/scan/types';
import { fuzzTarget, mutatedJson } from './harness';

const FIXTURES = join(__dirname, '..', 'fixtures', 'osv');
const seeds = readdirSync(FIXTURES).flatMap((eco) =>
  readdirSync(join(FIXTURES, eco)).map((f) => JSON.parse(readFileSync(join(FIXTURES, eco, f), 'utf8')) as unknown),
);

/** The importer's path: parse, validate, index; then match packages named by the record at the versions it mentions. */
function importAndMatch(text: string) {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new ChainError('BAD_INPUT', `not JSON: ${(err as Error).message}`);
  }
  const parsed = osvRecordSchema.safeParse(json);
  if (!parsed.success) throw new ChainError('BAD_INPUT', parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '));
  const db = new OsvDatabase([parsed.data]);
  const packages: Package[] = [];
  for (const affected of parsed.data.affected ?? []) {
    if (!affected.package) continue;
    const [ecosystem, release] = affected.package.ecosystem.split(':');
    const versions = [
      ...(affected.versions ?? []),
      ...(affected.ranges ?? []).flatMap((r) => r.events.map((e) => Object.values(e)[0]!)),
      '0',
      '1.0.0',
      '1:2.3-4',
      'v0.0.0-2023',
      '~^!',
    ];
    for (const version of versions.slice(0, 20)) {
      packages.push({
        name: affected.package.name,
        version,
        ecosystem: ecosystem as Package['ecosystem'],
        purl: 'pkg:generic/x',
        layer: '',
        location: '',
        sourceName: affected.package.name,
        sourceVersion: version,
        ...(release ? { release: affected.package.ecosystem } : {}),
      });
    }
  }
  return matchPackages(db, packages);
}

void describe('fuzz: OSV records', () => {
  fuzzTarget('osv', mutatedJson(seeds), importAndMatch, { runs: 200 });
});
