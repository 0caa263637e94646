import { z } from 'zod';
import { ChainError } from '../errors/chain-error';

const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

export const durationSchema = z
  .string()
  .regex(/^\d+(ms|s|m|h|d)$/, 'a duration such as 30m, 24h or 7d')
  .describe('A duration: a whole number followed by ms, s, m, h or d.');

export function durationMs(value: string): number {
  const match = /^(\d+)(ms|s|m|h|d)$/.exec(value);
  if (!match) throw new ChainError('BAD_INPUT', `"${value}" is not a duration`);
  return Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS];
}
