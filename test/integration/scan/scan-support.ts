/** Shared pieces of the scanner's integration tests: a scanner wired to a real local registry. */
import { resolve } from 'node:path';
import { RegistryClient } from '../../../src/registry';
import { MemorySbomStore, OsvSource, type Platform, scanImage, type ScanResult } from '../../../src/scan';

export const OSV_FIXTURES = resolve(__dirname, '../../fixtures/osv');

export function scannerFor(registryUrl: string, osvDirectory = OSV_FIXTURES, platform?: Platform) {
  const client = new RegistryClient({ name: 'local', url: registryUrl });
  const osv = new OsvSource({ directory: osvDirectory });
  const sbomStore = new MemorySbomStore();
  return {
    client,
    osv,
    sbomStore,
    scan: (repository: string, reference: string): Promise<ScanResult> =>
      scanImage(
        { source: client, registryName: 'local', registryHost: client.host, osv, sbomStore, ...(platform ? { platform } : {}) },
        { repository, reference },
      ),
  };
}
