import { readFileSync } from 'node:fs';
import { ChainError } from '../errors';
import { type ScanSummary } from '../scan';
import { factsFromScan } from './facts-from-scan';
import { type ImageFacts, imageFactsSchema } from './image-facts';

/** Image facts from a JSON file holding either policy facts or a scanner summary (`dchain scan --json`). */
export function readFactsFile(path: string): ImageFacts {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (cause) {
    throw new ChainError('BAD_INPUT', `cannot read facts file ${path}: ${(cause as Error).message}`, { cause });
  }
  const asFacts = imageFactsSchema.safeParse(raw);
  if (asFacts.success) return asFacts.data;
  const looksLikeScan = raw !== null && typeof raw === 'object' && 'hygiene' in raw && 'totalSizeBytes' in ((raw as { hygiene: object }).hygiene ?? {});
  if (looksLikeScan) {
    try {
      return factsFromScan(raw as ScanSummary);
    } catch (cause) {
      throw new ChainError('BAD_INPUT', `${path} is not a valid scan summary: ${(cause as Error).message}`, { cause });
    }
  }
  const problems = asFacts.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
  throw new ChainError('BAD_INPUT', `${path} holds neither image facts nor a scan summary (${problems})`);
}
