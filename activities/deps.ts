import { type Config } from '../src/config/schema';
import { type Logger } from '../src/log/logger';

/** What activity factories are built from; the worker process creates these once. */
export interface ActivityDeps {
  config: Config;
  logger: Logger;
}
