/**
 * How many entries an in-memory memo of the scanner keeps: what `share` of the V8 heap limit holds at
 * about `entryBytes` an entry, within [min, max], so a process given a smaller heap (a container's
 * memory) remembers less rather than running out of memory.
 */
import { getHeapStatistics } from 'node:v8';

export interface HeapBound {
  share: number;
  entryBytes: number;
  min: number;
  max: number;
}

export function heapBound(bound: HeapBound, heapLimitBytes = getHeapStatistics().heap_size_limit): number {
  return Math.min(bound.max, Math.max(bound.min, Math.floor((heapLimitBytes * bound.share) / bound.entryBytes)));
}
