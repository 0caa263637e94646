/**
 * What every process entry point in workers/ shares: a one-line error and a non-zero exit when
 * `main` fails, and an orderly close on SIGINT / SIGTERM.
 */
export function runEntryPoint(name: string, main: () => Promise<void>): void {
  main().catch((err: unknown) => {
    process.stderr.write(`${name}: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}

/** On SIGINT or SIGTERM, runs `close` once, then exits 0 (1 if closing failed). */
export function closeOnSignals(close: () => Promise<unknown>): void {
  const shutdown = () => {
    close()
      .then(() => process.exit(0))
      .catch(() => process.exit(1));
  };
  process.once('SIGTERM', shutdown);
  process.once('SIGINT', shutdown);
}
