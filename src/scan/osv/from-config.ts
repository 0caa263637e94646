/** The OSV source the configuration describes: a directory (created empty if missing) and/or downloads, reloaded once older than scan.osv.maxAge. */
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { type Config, durationMs } from '../../config';
import { type Logger } from '../../log';
import { OsvSource } from './source';
import { osvStatusFile } from './status';

export function osvSourceFromConfig(config: Config, logger?: Logger): OsvSource {
  const directory = resolve(config.scan.osv.directory ?? join(config.dataDir, 'osv'));
  mkdirSync(directory, { recursive: true });
  const { download } = config.scan.osv;
  return new OsvSource({
    directory,
    ...(download.enabled ? { download: { baseUrl: download.baseUrl, ecosystems: download.ecosystems, cacheDir: resolve(config.dataDir, 'osv-cache') } } : {}),
    // Public exports hold the odd record newer than our schema knows; skip those rather than fail every scan.
    strict: !download.enabled,
    maxAgeMs: durationMs(config.scan.osv.maxAge),
    statusFile: osvStatusFile(config),
    onBackgroundError: (err) => logger?.warn({ err }, 'OSV data reload failed; scans keep the loaded data'),
  });
}
