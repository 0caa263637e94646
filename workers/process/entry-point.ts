/**
 * What every process entry point in workers/ shares: a one-line error and a non-zero exit when
 * `main` fails, and one orderly, idempotent shutdown path.
 */
export function runEntryPoint(name: string, main: () => Promise<void>): void {
  main().catch((err: unknown) => {
    process.stderr.write(`${name}: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}

/** A process that has not finished closing by then exits anyway: the supervisor's budget is a little longer. */
export const SHUTDOWN_DEADLINE_MS = 9_000;

/**
 * The process's one shutdown path: on SIGINT, SIGTERM or SIGHUP — or when the `npm start`
 * supervisor that started it (DCHAIN_SUPERVISOR_PID) is gone — runs `close` once, then exits 0
 * (1 if closing failed or took longer than SHUTDOWN_DEADLINE_MS). Later signals are ignored: the
 * first one is being handled, and a second close of the same resources would only fail.
 */
export function closeOnSignals(close: () => Promise<unknown>, log: (reason: string) => void = () => undefined): void {
  let closing = false;
  const shutdown = (reason: string) => {
    if (closing) return;
    closing = true;
    log(reason);
    setTimeout(() => process.exit(1), SHUTDOWN_DEADLINE_MS).unref();
    close()
      .then(() => process.exit(0))
      .catch(() => process.exit(1));
  };
  for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.on(signal, () => shutdown(signal));
  const supervisor = Number(process.env.DCHAIN_SUPERVISOR_PID);
  if (Number.isInteger(supervisor) && supervisor > 0) {
    // The supervisor stops its children itself; this covers it being SIGKILLed.
    setInterval(() => {
      if (process.ppid !== supervisor) shutdown('supervisor gone');
    }, 1000).unref();
  }
}
