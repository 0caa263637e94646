import { resolve } from 'node:path';
import { durationMs } from '../../src/config/duration';
import { MultiBar, Presets } from 'cli-progress';
import Table from 'cli-table3';
import { type Command } from 'commander';
import { type RegistryConfig } from '../../src/config/schema';
import { ChainError } from '../../src/errors/chain-error';
import { CHAIN_VERSION, parseImageReference, RegistryClient } from '../../src/registry';
import { type Finding, type LayerProgress, MemorySbomStore, OsvSource, osvSourceFromConfig, scanImage, type ScanResult, toSarif } from '../../src/scan';
import { cliConfig } from '../context';

const FORMATS = ['table', 'json', 'cyclonedx', 'sarif'] as const;
type Format = (typeof FORMATS)[number];

interface ScanOptions {
  format?: string;
  osvDir?: string;
  plainHttp?: boolean;
  insecure?: boolean;
  platform?: string;
  progress?: boolean;
}

function clientFor(host: string, registries: RegistryConfig[], opts: ScanOptions): RegistryClient {
  const configured = registries.find((r) => new URL(r.url).host === host);
  if (configured) return RegistryClient.fromConfig(configured);
  const loopback = /^(127\.0\.0\.1|localhost|\[::1\])(:\d+)?$/.test(host);
  return new RegistryClient({ url: `${opts.plainHttp || loopback ? 'http' : 'https'}://${host}`, insecure: opts.insecure === true });
}

function progressBars(enabled: boolean): { onProgress?: (p: LayerProgress) => void; stop: () => void } {
  if (!enabled) return { stop: () => undefined };
  const multi = new MultiBar({ format: ' layer {layer} [{bar}] {percentage}% | {value}/{total} bytes', hideCursor: true, clearOnComplete: true, stream: process.stderr }, Presets.shades_classic);
  const bars = new Map<number, ReturnType<MultiBar['create']>>();
  return {
    onProgress: (p) => {
      let bar = bars.get(p.index);
      if (!bar) {
        bar = multi.create(p.size, 0, { layer: `${p.index + 1}/${p.count}` });
        bars.set(p.index, bar);
      }
      bar.update(p.done ? p.size : Math.min(p.bytes, p.size));
    },
    stop: () => multi.stop(),
  };
}

/** Exit code of a scan matched against no, incomplete or stale vulnerability data (the findings cannot be trusted). */
export const EXIT_NO_VULNERABILITY_DATA = 4;

/** The installed version, and for a package built from a source package of another version, that one (what OS advisories compare). */
function installed(f: Finding): string {
  const { sourceName, sourceVersion, version } = f.package;
  return sourceVersion !== undefined ? `${version} (source ${sourceName ?? f.package.name} ${sourceVersion})` : version;
}

/** A source package's fix is named as such: next to a binary version with an epoch, a bare source version would look older. */
function fixedIn(f: Finding): string {
  if (!f.fixedVersion) return '-';
  return f.fixedIn ? `${f.fixedIn.name} ${f.fixedIn.version} (source)` : f.fixedVersion;
}

function severityCell(f: Finding): string {
  const rated = f.vendorSeverity ? `${f.severity} (${f.vendorSeverity.source}: ${f.vendorSeverity.rating})` : f.severity;
  return f.negligible ? `${rated}, not counted` : rated;
}

function table(result: ScanResult, image: string): string {
  const { summary } = result;
  const lines: string[] = [];
  lines.push(`${image}@${summary.digest}`);
  lines.push(`OS: ${summary.os?.prettyName ?? 'unknown'} · packages: ${summary.packageCount} · OSV data ${summary.osv.version.slice(0, 19)} (${summary.osv.records} records)`);
  const counts = Object.entries(summary.counts).map(([s, n]) => `${s} ${n}`).join(', ');
  const negligible = summary.negligible ? `; ${summary.negligible} negligible, not counted` : '';
  lines.push(`Vulnerabilities: ${counts} (fixable: ${Object.values(summary.fixable).reduce((a, b) => a + b, 0)}${negligible})`);
  if (result.findings.length > 0) {
    const t = new Table({ head: ['Severity', 'ID', 'Package', 'Installed', 'Fixed in', 'CVSS'] });
    for (const f of result.findings) {
      t.push([severityCell(f), [f.id, ...f.ids.filter((i) => i !== f.id)].join('\n'), f.package.name, installed(f), fixedIn(f), f.cvssScore !== undefined ? f.cvssScore.toFixed(1) : '-']);
    }
    lines.push(t.toString());
  }
  const h = summary.hygiene;
  lines.push(`Hygiene: user ${h.user || '(unset)'}${h.runsAsRoot ? ' (root)' : ''} · ${h.layerCount} layers · ${h.totalSizeBytes} bytes · efficiency ${(h.efficiency * 100).toFixed(1)}%`);
  for (const issue of h.issues) lines.push(`  ! ${issue.check}: ${issue.message}${issue.subjects.length && issue.check !== 'root-user' ? ` — ${issue.subjects.slice(0, 8).join(', ')}${issue.subjects.length > 8 ? ', …' : ''}` : ''}`);
  return `${lines.join('\n')}\n`;
}

export function register(program: Command): void {
  program
    .command('scan')
    .description('scan an image in a registry: packages, OSV vulnerabilities, hygiene (streams layers, writes nothing to disk)')
    .argument('<image-ref>', 'host/repository[:tag|@sha256:…]')
    .option('-f, --format <format>', `output: ${FORMATS.join(', ')} (default: table on a terminal, json otherwise)`)
    .option('--osv-dir <dir>', 'OSV records directory (JSON files and/or all.zip); default from the configuration')
    .option('--platform <os/arch>', 'platform to pick from a multi-platform image (default: this machine)')
    .option('--plain-http', 'talk HTTP to a registry that is not in the configuration')
    .option('--insecure', 'skip TLS verification for a registry that is not in the configuration')
    .option('--no-progress', 'no progress bar on stderr')
    .action(async (ref: string, opts: ScanOptions) => {
      const config = cliConfig(program.opts());
      const format = (opts.format ?? (process.stdout.isTTY ? 'table' : 'json')) as Format;
      if (!FORMATS.includes(format)) throw new ChainError('BAD_INPUT', `unknown --format "${opts.format}"; use one of ${FORMATS.join(', ')}`);
      let platform: { os: string; architecture: string } | undefined;
      if (opts.platform) {
        const [os, architecture] = opts.platform.split('/');
        if (!os || !architecture) throw new ChainError('BAD_INPUT', `--platform must be os/arch, e.g. linux/amd64, not "${opts.platform}"`);
        platform = { os, architecture };
      }
      const image = parseImageReference(ref);
      const client = clientFor(image.registry, config.registries, opts);
      const osv = opts.osvDir ? new OsvSource({ directory: resolve(opts.osvDir), maxAgeMs: durationMs(config.scan.osv.maxAge) }) : osvSourceFromConfig(config);
      const bars = progressBars(opts.progress !== false && process.stderr.isTTY === true);
      let result: ScanResult;
      try {
        result = await scanImage(
          { source: client, registryName: client.name, registryHost: client.host, osv, sbomStore: new MemorySbomStore(), concurrency: config.scan.concurrency, ...(platform ? { platform } : {}), ...(bars.onProgress ? { onProgress: bars.onProgress } : {}) },
          { repository: image.repository, reference: image.digest ?? image.tag ?? 'latest' },
        );
      } finally {
        bars.stop();
        await client.close();
      }
      // Package databases the scan could not read: the package list is incomplete, say so beside the result.
      for (const w of result.catalogWarnings) process.stderr.write(`warning: ${w.cataloger}: ${w.location}: ${w.message}\n`);
      const name = `${client.host}/${image.repository}`;
      const out =
        format === 'table'
          ? table(result, name)
          : `${JSON.stringify(format === 'json' ? { ...result.summary, findings: result.findings, packages: result.packages } : format === 'cyclonedx' ? result.sbom : toSarif(result.summary, result.findings, CHAIN_VERSION, name), null, 2)}\n`;
      process.stdout.write(out);
      // Fail closed: findings from no, partial or stale data say nothing about the packages they did not cover.
      const { problems } = result.summary.osv;
      if (problems.length > 0) {
        for (const p of problems) process.stderr.write(`error: vulnerability data: ${p.message}\n`);
        process.stderr.write(`error: the findings above are incomplete (OSV data ${result.summary.osv.version.slice(0, 19)}, ${result.summary.osv.records} records); point --osv-dir or scan.osv at current data for these ecosystems\n`);
        process.exitCode = EXIT_NO_VULNERABILITY_DATA;
      }
    });
}
