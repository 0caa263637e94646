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
  if (pretty) {
    return pino({ ...options, transport: { target: 'pino-pretty', options: { colorize: true, translateTime: 'SYS:HH:MM:ss.l' } } });
  }
  return pino(options);
}

/** The logger every line of one chain goes through: workflowId and image digest on each line. */
export function chainLogger(parent: Logger, workflowId: string, digest: string, extra: Record<string, unknown> = {}): Logger {
  return parent.child({ workflowId, digest, ...extra });
}
