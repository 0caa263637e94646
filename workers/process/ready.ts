import { writeFileSync } from 'node:fs';

/**
 * Tells the process that started this one (the `npm start` launcher) that it is serving:
 * writes the file named by DCHAIN_READY_FILE. A no-op when run on its own.
 */
export function signalReady(): void {
  const file = process.env.DCHAIN_READY_FILE;
  if (file) writeFileSync(file, String(process.pid));
}
