import { resolve } from 'node:path';
import { type Config, durationMs, loadConfig, type RegistryConfig } from '../../src/config';
import { type MultiBar as ProgressBars } from 'cli-progress';
import type TableType from 'cli-table3';
import { type Command } from 'commander';
import { ChainError } from '../../src/errors';
import type * as Registry from '../../src/registry';
import { type RegistryClient } from '../../src/registry';
import {
  type Finding,
  type ImageSource,
  type LayerProgress,
  MemorySbomStore,
  openLocalImage,
  OsvSource,
  osvSourceFromConfig,
  parseImageInput,
  scanImage,
  type ScanResult,
  SEVERITIES,
  type Severity,
  toSarif,
} from '../../src/scan/image-scan';
import { colorEnabled, paint } from '../color';

/** `--fail-on`: the exit code when a counted finding is at or above the given severity (1 is any error, 3 a policy denial, 4 missing or stale vulnerability data). */
export const EXIT_FINDINGS = 2;

const FORMATS = ['table', 'json', 'cyclonedx', 'sarif'] as const;
type Format = (typeof FORMATS)[number];

interface ScanOptions {
  format?: string;
  osvDir?: string;
  plainHttp?: boolean;
  insecure?: boolean;
  platform?: string;
  progress?: boolean;
  failOn?: string;
}

/**
 * The registry module (undici, the copy engine) is loaded only when a registry is scanned: an archive or a layout
 * on disk never needs it, and loading it is a good part of a local scan's start-up.
 */
// eslint-disable-next-line @typescript-eslint/no-require-imports -- lazy on purpose, see above
const registryModule = () => require('../../src/registry') as typeof Registry;

function clientFor(host: string, registries: RegistryConfig[], opts: ScanOptions): RegistryClient {
  const { RegistryClient, RegistryDirectory } = registryModule();
  const directory = new RegistryDirectory(registries);
  if (directory.find(host)) return directory.client(host);
  const loopback = /^(127\.0\.0\.1|localhost|\[::1\])(:\d+)?$/.test(host);
  return new RegistryClient({ url: `${opts.plainHttp || loopback ? 'http' : 'https'}://${host}`, insecure: opts.insecure === true });
}

/** Resolves once `stream` has taken `text` (on every platform: pipes are asynchronous on some). */
function written(stream: NodeJS.WriteStream, text: string): Promise<void> {
  return new Promise((resolve, reject) => stream.write(text, (err) => (err ? reject(err) : resolve())));
}

/** Progress bars on a terminal's stderr; cli-progress is loaded only then (it is start-up time for nothing otherwise). */
async function progressBars(enabled: boolean): Promise<{ onProgress?: (p: LayerProgress) => void; stop: () => void }> {
  if (!enabled) return { stop: () => undefined };
  const { MultiBar, Presets } = await import('cli-progress');
  const multi = new MultiBar(
    { format: ' layer {layer} [{bar}] {percentage}% | {value}/{total} bytes', hideCursor: true, clearOnComplete: true, stream: process.stderr },
    Presets.shades_classic,
  );
  const bars = new Map<number, ReturnType<ProgressBars['create']>>();
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

const SEVERITY_COLOR: Record<Severity, Parameters<typeof paint>[1]> = { CRITICAL: 'red', HIGH: 'red', MEDIUM: 'yellow', LOW: 'cyan', UNKNOWN: 'dim' };

function table(result: ScanResult, image: string, color: boolean): string {
  const { summary } = result;
  const lines: string[] = [];
  lines.push(`${image}@${summary.digest}`);
  lines.push(
    `OS: ${summary.os?.prettyName ?? 'unknown'} · packages: ${summary.packageCount} · OSV data ${summary.osv.version.slice(0, 19)} (${summary.osv.records} records)`,
  );
  const counts = Object.entries(summary.counts)
    .map(([s, n]) => `${s} ${n}`)
    .join(', ');
  const negligible = summary.negligible ? `; ${summary.negligible} negligible, not counted` : '';
  lines.push(`Vulnerabilities: ${counts} (fixable: ${Object.values(summary.fixable).reduce((a, b) => a + b, 0)}${negligible})`);
  if (result.findings.length > 0) {
    // Loaded for this output only; cli-table3 colours headings and borders unless told not to.
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- lazy: JSON, CycloneDX and SARIF output never draw a table
    const Table = require('cli-table3') as typeof TableType;
    const t = new Table({ head: ['Severity', 'ID', 'Package', 'Installed', 'Fixed in', 'CVSS'], ...(color ? {} : { style: { head: [], border: [] } }) });
    for (const f of result.findings) {
      t.push([
        color ? paint(severityCell(f), SEVERITY_COLOR[f.severity]) : severityCell(f),
        [f.id, ...f.ids.filter((i) => i !== f.id)].join('\n'),
        f.package.name,
        installed(f),
        fixedIn(f),
        f.cvssScore !== undefined ? f.cvssScore.toFixed(1) : '-',
      ]);
    }
    lines.push(t.toString());
  }
  const h = summary.hygiene;
  lines.push(
    `Hygiene: user ${h.user || '(unset)'}${h.runsAsRoot ? ' (root)' : ''} · ${h.layerCount} layers · ${h.totalSizeBytes} bytes · efficiency ${(h.efficiency * 100).toFixed(1)}%`,
  );
  for (const issue of h.issues)
    lines.push(
      `  ! ${issue.check}: ${issue.message}${issue.subjects.length && issue.check !== 'root-user' ? ` — ${issue.subjects.slice(0, 8).join(', ')}${issue.subjects.length > 8 ? ', …' : ''}` : ''}`,
    );
  return `${lines.join('\n')}\n`;
}

/** Opens what the argument names: an archive or layout on disk, or a registry reference. */
async function openSource(
  arg: string,
  config: Config,
  opts: ScanOptions,
): Promise<{ source: ImageSource; registryName: string; registryHost: string; repository: string; reference: string; close: () => Promise<void> }> {
  const input = parseImageInput(arg);
  if (input.transport !== 'registry') {
    const local = await openLocalImage(input.transport, resolve(input.path), input.reference);
    return {
      source: local.source,
      registryName: local.transport,
      registryHost: local.transport,
      repository: local.repository,
      reference: local.reference,
      close: () => Promise.resolve(),
    };
  }
  const image = registryModule().parseImageReference(input.reference);
  const client = clientFor(image.registry, config.registries, opts);
  return {
    source: client,
    registryName: client.name,
    registryHost: client.host,
    repository: image.repository,
    reference: image.digest ?? image.tag ?? 'latest',
    close: () => client.close(),
  };
}

function failOnSeverity(value: string | undefined): Severity | undefined {
  if (value === undefined) return undefined;
  const upper = value.toUpperCase();
  const found = SEVERITIES.find((s) => s === upper);
  if (!found) throw new ChainError('BAD_INPUT', `unknown --fail-on "${value}"; use one of ${SEVERITIES.map((s) => s.toLowerCase()).join(', ')}`);
  return found;
}

/**
 * Counted findings at or above `threshold`: the severity the gate compares, negligible findings left out as in
 * the counts (UNKNOWN counts only when it is the threshold itself, as in Grype and Trivy).
 */
export function findingsAtOrAbove(result: ScanResult, threshold: Severity): number {
  const rank = (s: Severity) => (s === 'UNKNOWN' ? -1 : SEVERITIES.length - SEVERITIES.indexOf(s));
  return result.findings.filter((f) => !f.negligible && (threshold === 'UNKNOWN' || rank(f.severity) >= rank(threshold))).length;
}

export function register(program: Command): void {
  program
    .command('scan')
    .description('scan an image: packages, OSV vulnerabilities, hygiene (streams layers, writes nothing to disk)')
    .argument(
      '<image>',
      'a registry reference (host/repository[:tag|@sha256:…], also docker://… or registry:…), docker-archive:<file>[:name:tag], oci-archive:<file>[:tag] or oci:<dir>[:tag]',
    )
    .option('-f, --format <format>', `output: ${FORMATS.join(', ')} (default: table on a terminal, json otherwise)`)
    .option(
      '--fail-on <severity>',
      `exit with ${EXIT_FINDINGS} when a counted finding is at or above this severity (${SEVERITIES.map((s) => s.toLowerCase()).join(', ')})`,
    )
    .option('--osv-dir <dir>', 'OSV records directory (JSON files and/or all.zip); default from the configuration')
    .option('--platform <os/arch>', 'platform to pick from a multi-platform image (default: this machine)')
    .option('--plain-http', 'talk HTTP to a registry that is not in the configuration')
    .option('--insecure', 'skip TLS verification for a registry that is not in the configuration')
    .option('--no-progress', 'no progress bar on stderr')
    .addHelpText(
      'after',
      `\nExit codes: 0 scanned (no counted finding at or above --fail-on), ${EXIT_FINDINGS} findings at or above --fail-on, ${EXIT_NO_VULNERABILITY_DATA} matched against missing, partial or stale vulnerability data, 1 error.\nColour only on a terminal, never with NO_COLOR set.`,
    )
    .action(async (ref: string, opts: ScanOptions) => {
      // Not cliConfig from ../context: that module loads the Temporal client and Redis, which a scan never needs.
      const globals = program.opts<{ config?: string }>();
      const config = loadConfig(globals.config === undefined ? {} : { path: globals.config });
      const format = (opts.format ?? (process.stdout.isTTY ? 'table' : 'json')) as Format;
      if (!FORMATS.includes(format)) throw new ChainError('BAD_INPUT', `unknown --format "${opts.format}"; use one of ${FORMATS.join(', ')}`);
      const failOn = failOnSeverity(opts.failOn);
      let platform: { os: string; architecture: string } | undefined;
      if (opts.platform) {
        const [os, architecture] = opts.platform.split('/');
        if (!os || !architecture) throw new ChainError('BAD_INPUT', `--platform must be os/arch, e.g. linux/amd64, not "${opts.platform}"`);
        platform = { os, architecture };
      }
      const target = await openSource(ref, config, opts);
      const osv = opts.osvDir ? new OsvSource({ directory: resolve(opts.osvDir), maxAgeMs: durationMs(config.scan.osv.maxAge) }) : osvSourceFromConfig(config);
      const bars = await progressBars(opts.progress !== false && process.stderr.isTTY === true);
      let result: ScanResult;
      try {
        result = await scanImage(
          {
            source: target.source,
            registryName: target.registryName,
            registryHost: target.registryHost,
            osv,
            sbomStore: new MemorySbomStore(),
            concurrency: config.scan.concurrency,
            ...(platform ? { platform } : {}),
            ...(bars.onProgress ? { onProgress: bars.onProgress } : {}),
          },
          { repository: target.repository, reference: target.reference },
        );
      } finally {
        bars.stop();
        await target.close();
      }
      // Package databases the scan could not read: the package list is incomplete, say so beside the result.
      for (const w of result.catalogWarnings) await written(process.stderr, `warning: ${w.cataloger}: ${w.location}: ${w.message}\n`);
      const name = `${target.registryHost}/${target.repository}`;
      const chainVersion = format === 'sarif' ? registryModule().CHAIN_VERSION : '';
      const out =
        format === 'table'
          ? table(result, name, colorEnabled(process.stdout))
          : `${JSON.stringify(format === 'json' ? { ...result.summary, findings: result.findings, packages: result.packages } : format === 'cyclonedx' ? result.sbom : toSarif(result.summary, result.findings, chainVersion, name), null, 2)}\n`;
      await written(process.stdout, out);
      // Fail closed: findings from no, partial or stale data say nothing about the packages they did not cover.
      const { problems } = result.summary.osv;
      if (problems.length > 0) {
        for (const p of problems) await written(process.stderr, `error: vulnerability data: ${p.message}\n`);
        await written(
          process.stderr,
          `error: the findings above are incomplete (OSV data ${result.summary.osv.version.slice(0, 19)}, ${result.summary.osv.records} records); point --osv-dir or scan.osv at current data for these ecosystems\n`,
        );
        process.exitCode = EXIT_NO_VULNERABILITY_DATA;
      } else if (failOn) {
        const over = findingsAtOrAbove(result, failOn);
        if (over > 0) {
          await written(process.stderr, `dchain: ${over} finding(s) at or above ${failOn} (--fail-on)\n`);
          process.exitCode = EXIT_FINDINGS;
        }
      }
      // Everything is written and nothing else is pending: exit now rather than when the event loop drains. V8 often
      // starts an incremental marking of the heap near the end of a scan, and its tasks kept the process alive some
      // 15-30 ms after the result for a collection nobody needs.
      process.exit();
    });
}
