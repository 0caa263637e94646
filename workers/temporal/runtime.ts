import { DefaultLogger, type LogLevel, Runtime } from '@temporalio/worker';
import { type Logger } from '../../src/log';

let installed = false;

/**
 * Routes the Temporal SDK's own logs (worker, workflow and activity loggers) into pino, so every
 * line carries the workflowId/activityId attributes the SDK adds. Installed once per process.
 */
export function installTemporalRuntime(logger: Logger): void {
  if (installed) return;
  installed = true;
  const level = (logger.level.toUpperCase() === 'SILENT' ? 'ERROR' : logger.level.toUpperCase()) as LogLevel;
  Runtime.install({
    // No signal handlers of the SDK's own: each process has one shutdown path (closeOnSignals), and
    // the SDK's handlers shutting the workers down as well made a second shutdown throw IllegalStateError.
    shutdownSignals: [],
    logger: new DefaultLogger(['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR'].includes(level) ? level : 'INFO', (entry) => {
      const method = entry.level.toLowerCase() as 'trace' | 'debug' | 'info' | 'warn' | 'error';
      logger[method]({ ...entry.meta, sdk: 'temporal' }, entry.message);
    }),
  });
}
