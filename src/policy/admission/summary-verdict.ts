import { parseVsa, type VsaPredicate } from '../../signing';
import { type SignatureFacts } from './signature-check';

/**
 * Registry-only admission: the verdict is the newest valid SLSA verification summary of the digest
 * (signed by a trusted key, about this digest), which must say PASSED and be younger than `maxAgeMs`.
 * A rescan that turns the image denied attaches a FAILED summary; until it does, the age bound is what
 * limits how long an old PASSED one keeps working. Returns the denial reason, or undefined to admit.
 */
export function summaryDenial(name: string, digest: string, facts: SignatureFacts, now: Date, maxAgeMs: number): string | undefined {
  const valid: VsaPredicate[] = [];
  const problems: string[] = [];
  for (const { predicate } of facts.summaries ?? []) {
    const parsed = parseVsa(predicate);
    if (!parsed.ok) problems.push(`malformed summary: ${parsed.reason}`);
    else if (!parsed.value.resourceUri.endsWith(`@${digest}`)) problems.push(`summary about ${parsed.value.resourceUri}, not ${digest}`);
    else valid.push(parsed.value);
  }
  const newest = valid.sort((a, b) => Date.parse(b.timeVerified) - Date.parse(a.timeVerified))[0];
  if (!newest) {
    const why = problems.length ? ` (${problems.join('; ')})` : '';
    return `${name}@${digest} has no verification summary (SLSA VSA) signed by a trusted key${why}`;
  }
  if (newest.verificationResult !== 'PASSED')
    return `${name}@${digest} failed verification: its newest summary (${newest.timeVerified}, policy ${newest.policy.uri ?? '?'}) says ${newest.verificationResult}`;
  const age = now.getTime() - Date.parse(newest.timeVerified);
  if (age > maxAgeMs) {
    return `${name}@${digest} has no recent verification: its newest summary is from ${newest.timeVerified}, older than ${Math.round(maxAgeMs / 1000)} s (the chain re-verifies on every rescan)`;
  }
  return undefined;
}
