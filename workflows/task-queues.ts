/**
 * Scanning is CPU-heavy, so its activities run on their own task queue, named after the chain's:
 * the workflow derives it from its own task queue and the worker from configuration, so the two
 * always agree without another setting.
 */
export function scanTaskQueue(chainTaskQueue: string): string {
  return `${chainTaskQueue}-scan`;
}
