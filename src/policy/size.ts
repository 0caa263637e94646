import { ChainError } from '../errors';

const UNITS: Record<string, number> = { B: 1, KB: 1e3, MB: 1e6, GB: 1e9, KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3 };

/** Bytes from a number or a "200MiB"-style string (decimal and binary units). */
export function parseSize(value: number | string): number {
  if (typeof value === 'number') return value;
  const match = /^(\d+(?:\.\d+)?)\s*(B|KB|MB|GB|KiB|MiB|GiB)$/.exec(value);
  if (!match) throw new ChainError('BAD_INPUT', `"${value}" is not a size such as 200MiB`);
  return Math.round(Number(match[1]) * (UNITS[match[2] as string] as number));
}
