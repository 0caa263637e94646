import { type Config } from '../src/config/schema';
import { loadConfig } from '../src/config/load';

export { connectTemporal, connectWorkflowStarter, type TemporalSession } from '../workers/temporal-client';

/** Loads the configuration named by the global --config option (or DCHAIN_CONFIG, or defaults). */
export function cliConfig(opts: { config?: string }): Config {
  return loadConfig(opts.config === undefined ? {} : { path: opts.config });
}
