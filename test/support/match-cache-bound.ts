/**
 * The fleet match cache at its bound, in a process of its own: the bound is read from the heap limit
 * when the module loads (cacheBound), so the test starts this with a small heap (--max-old-space-size)
 * and a bound of 50,000 entries rather than filling a million. Fills the cache with packages named by
 * no record, then matches one that a record names (which starts the cache over), and matches it again.
 * Prints one JSON line: the bound, and whether the second match handed out the first one's findings
 * (the very same objects: found in the cache, not matched again).
 */
import { getHeapStatistics } from 'node:v8';
import { cacheBound, matchFleetImage } from '../../src/scan/fleet/match-cache';
import { OsvDatabase, type OsvRecord } from '../../src/scan/osv';
import { type Package } from '../../src/scan/types';

const npm = (name: string): Package => ({ name, version: '1.0.0', ecosystem: 'npm', purl: `pkg:npm/${name}@1.0.0`, layer: 'sha256:l', location: '' });
const record = {
  id: 'GHSA-0000-0000-0001',
  modified: '2025-01-01T00:00:00Z',
  affected: [{ package: { ecosystem: 'npm', name: 'named' }, ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed: '2.0.0' }] }] }],
} as OsvRecord;

const db = new OsvDatabase([record]);
const bound = cacheBound(getHeapStatistics().heap_size_limit);
const fillers = Array.from({ length: bound }, (_, i) => npm(`filler-${i}`));
matchFleetImage(db, fillers, 500, { layers: fillers.map((p) => p.layer), table: { epoch: '1', ids: fillers.map((_, i) => i) } });
const named = [npm('named')];
const rows = { layers: ['sha256:l'], table: { epoch: '1', ids: [bound] } };
const first = matchFleetImage(db, named, 500, rows);
const again = matchFleetImage(db, named, 500, rows);
process.stdout.write(`${JSON.stringify({ bound, findings: first.cached.length, kept: first.cached.length > 0 && again.cached[0] === first.cached[0] })}\n`);
