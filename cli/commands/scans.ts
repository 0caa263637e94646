/** `dchain scans create|show`: on-demand scans through the control API (the chain's engine and policy). */
import { setTimeout as delay } from 'node:timers/promises';
import { type Command } from 'commander';
import { apiClient, type ApiOptions, printJson, withApiOptions } from '../api-client';

interface ScanView {
  id: string;
  status: string;
  verdict?: string;
  counts?: Record<string, number>;
  findings?: Array<{ id: string; severity: string; package: { name: string; version: string } }>;
  error?: string;
}

function print(scan: ScanView): void {
  process.stdout.write(`${scan.id}: ${scan.status}${scan.verdict ? `, ${scan.verdict}` : ''}${scan.error ? ` — ${scan.error}` : ''}\n`);
  if (scan.counts)
    process.stdout.write(
      `  ${Object.entries(scan.counts)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ')}\n`,
    );
  for (const f of scan.findings ?? []) process.stdout.write(`  ${f.severity.padEnd(8)} ${f.id} in ${f.package.name} ${f.package.version}\n`);
}

export function register(program: Command): void {
  const scans = program.command('scans').description('on-demand scans through the control API');

  withApiOptions(scans.command('create'))
    .description('scan an image now (nothing is signed, copied or recorded for admission)')
    .argument('<image>', 'host/repository:tag or @sha256:… in a configured registry')
    .option('--no-wait', 'print the scan id without waiting for the result')
    .action(async (image: string, opts: ApiOptions & { wait: boolean }) => {
      const api = apiClient(program, opts);
      let scan = await api.request<ScanView>('POST', '/v1/scans', { image });
      while (opts.wait && scan.status === 'running') {
        await delay(1000);
        scan = await api.request<ScanView>('GET', `/v1/scans/${encodeURIComponent(scan.id)}?sbom=false`);
      }
      if (opts.json) printJson(scan);
      else print(scan);
    });

  withApiOptions(scans.command('show'))
    .description('a scan: findings, verdict (and SBOM with --json)')
    .argument('<scan-id>', 'scan:<uuid>')
    .action(async (id: string, opts: ApiOptions) => {
      const scan = await apiClient(program, opts).request<ScanView>('GET', `/v1/scans/${encodeURIComponent(id)}?sbom=${opts.json ? 'true' : 'false'}`);
      if (opts.json) printJson(scan);
      else print(scan);
    });
}
