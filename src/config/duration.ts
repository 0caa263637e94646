import { z } from 'zod';

const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
const DURATION = /^\d+(ms|s|m|h|d)$/;

/** A duration in configuration and policy files: a whole number followed by ms, s, m, h or d. */
export const durationSchema = z
  .string()
  .regex(DURATION, 'a duration such as 30s, 5m, 24h or 7d')
  .describe('A duration: a whole number followed by ms, s, m, h or d.');

/** Milliseconds of a duration such as `30s`, `5m`, `24h`; values come validated by durationSchema, so a bad one is a bug. */
export function durationMs(value: string): number {
  const match = DURATION.exec(value);
  if (!match) throw new RangeError(`"${value}" is not a duration`);
  const unit = match[1] as keyof typeof UNIT_MS;
  return Number(value.slice(0, -unit.length)) * UNIT_MS[unit];
}
