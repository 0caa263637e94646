/** SARIF 2.1.0 of a scan: one rule per advisory, one result per affected package. */
import { type Finding, type ScanSummary, type Severity } from '../types';

const LEVEL: Record<Severity, 'error' | 'warning' | 'note'> = { CRITICAL: 'error', HIGH: 'error', MEDIUM: 'warning', LOW: 'note', UNKNOWN: 'note' };
/** GitHub code scanning reads `security-severity` (a CVSS-like number) to rank results. */
const SEVERITY_SCORE: Record<Severity, string> = { CRITICAL: '9.5', HIGH: '8.0', MEDIUM: '5.5', LOW: '2.0', UNKNOWN: '0.0' };

/**
 * A result's property bag: every field of the finding but the package (the location says it) and the summary
 * (the rule says it) — severity, CVSS score and vector, aliases, fix, and whatever fields findings gain later
 * (vendor severity, VEX status) — so SARIF consumers see what the JSON output shows without a change here.
 */
function findingProperties(f: Finding): Record<string, unknown> {
  const { package: pkg, summary: _summary, id: _id, ...rest } = f;
  return { ...rest, package: { name: pkg.name, version: pkg.version, ecosystem: pkg.ecosystem, purl: pkg.purl } };
}

export function toSarif(summary: ScanSummary, findings: readonly Finding[], toolVersion: string, imageName: string): object {
  const rules = new Map<string, object>();
  for (const f of findings) {
    if (rules.has(f.id)) continue;
    rules.set(f.id, {
      id: f.id,
      shortDescription: { text: f.summary ?? f.id },
      helpUri: `https://osv.dev/vulnerability/${encodeURIComponent(f.id)}`,
      properties: {
        'security-severity': f.cvssScore !== undefined ? f.cvssScore.toFixed(1) : SEVERITY_SCORE[f.severity],
        tags: ['security', 'vulnerability', ...f.aliases],
      },
    });
  }
  return {
    $schema: 'https://json.schemastore.org/sarif-2.1.0.json',
    version: '2.1.0',
    runs: [
      {
        tool: {
          driver: {
            name: 'delivery-chain',
            version: toolVersion,
            informationUri: 'https://github.com/delivery-chain/delivery-chain',
            rules: [...rules.values()],
          },
        },
        properties: { image: `${imageName}@${summary.digest}`, osvDataVersion: summary.osv.version },
        results: findings.map((f) => ({
          ruleId: f.id,
          level: LEVEL[f.severity],
          message: {
            text: `${f.package.name} ${f.package.version} is affected by ${f.id}${f.aliases.length ? ` (${f.aliases.join(', ')})` : ''}; ${f.fixedVersion ? `fixed in ${f.fixedVersion}` : 'no fix available'}`,
          },
          locations: [{ physicalLocation: { artifactLocation: { uri: f.package.purl } }, logicalLocations: [{ name: f.package.layer, kind: 'layer' }] }],
          partialFingerprints: { 'package/vulnerability': `${f.package.purl}:${f.id}` },
          properties: findingProperties(f),
        })),
      },
    ],
  };
}
