import pino, { type Logger, type LoggerOptions } from 'pino';

export type { Logger } from 'pino';

/** Paths redacted from every log line, whatever logged them. */
export const REDACTED_PATHS = [
  'password',
  'secret',
  'token',
  'authorization',
  'privateKey',
  '*.password',
  '*.secret',
  '*.token',
  '*.authorization',
  '*.Authorization',
  '*.privateKey',
  '*.credentials',
  'headers.authorization',
  'req.headers.authorization',
  'req.headers["x-dchain-signature"]',
];

export interface LoggerSettings {
  level?: string;
  /** Force pretty output; by default pretty only when stdout is a TTY. */
  pretty?: boolean;
  name?: string;
  /** Also append every line (JSON) to this file, e.g. <dataDir>/logs/stack.log. */
  file?: string;
}

export function createLogger(settings: LoggerSettings = {}): Logger {
  const pretty = settings.pretty ?? (process.stdout.isTTY === true && process.env.CI !== 'true');
  const options: LoggerOptions = {
    name: settings.name ?? 'delivery-chain',
    level: settings.level ?? process.env.LOG_LEVEL ?? 'info',
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    base: { pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  const prettyTarget = { target: 'pino-pretty', options: { colorize: true, translateTime: 'SYS:HH:MM:ss.l' } };
  if (settings.file) {
    const file = { dest: settings.file, mkdir: true, append: true };
    const level = options.level as string;
    if (pretty)
      return pino({
        ...options,
        transport: {
          targets: [
            { ...prettyTarget, level },
            { target: 'pino/file', options: file, level },
          ],
        },
      });
    return pino(
      options,
      pino.multistream([
        { stream: process.stdout, level },
        { stream: pino.destination({ ...file, sync: true }), level },
      ]),
    );
  }
  if (pretty) return pino({ ...options, transport: prettyTarget });
  return pino(options);
}

/** The logger every line of one chain goes through: workflowId and image digest on each line. */
export function chainLogger(parent: Logger, workflowId: string, digest: string, extra: Record<string, unknown> = {}): Logger {
  return parent.child({ workflowId, digest, ...extra });
}
