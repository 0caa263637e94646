/**
 * The fuzz harness: every target is a fast-check property with a fixed seed and a fixed number of
 * runs. `npm test` runs each at its CI count; `npm run fuzz` multiplies every count by FUZZ_MULTIPLIER
 * (100 by default there). The property is the same for every parser: each input ends in a result or a
 * ChainError with a message — never another exception, never longer than the per-input time bound,
 * and never growing the process beyond the memory bound.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { it } from 'node:test';
import fc from 'fast-check';
import { ChainError } from '../../src/errors/chain-error';

/** Multiplies every target's run count (`npm run fuzz` sets 100). */
export const FUZZ_MULTIPLIER = Math.max(1, Number(process.env.FUZZ_MULTIPLIER ?? '1') || 1);
/** Wall time one input may take (synchronous work included: measured around the call). */
const PER_INPUT_MS = Number(process.env.FUZZ_INPUT_MS ?? '5000');
/** Resident set size the fuzzing process must stay under. */
const MAX_RSS = Number(process.env.FUZZ_MAX_RSS ?? String(1536 * 1024 ** 2));

export interface TargetStats {
  target: string;
  runs: number;
  results: number;
  typedErrors: number;
  peakRssMiB: number;
  seconds: number;
}

/** What an input may end in besides a result: a ChainError (typed, with a message). */
export function expectTyped(err: unknown, typed: readonly (new (...a: never[]) => Error)[] = []): Error {
  if (typed.some((t) => err instanceof t)) {
    assert.ok((err as Error).message.trim().length > 0, 'a typed error without a message');
    return err as Error;
  }
  if (!(err instanceof ChainError)) {
    const e = err as Error;
    throw new Error(`untyped ${e?.name ?? typeof err}: ${e?.message ?? String(err)}`, { cause: err });
  }
  assert.ok(err.message.trim().length > 0, 'a ChainError without a message');
  return err;
}

const seedOf = (name: string) => createHash('sha256').update(name).digest().readInt32LE(0);

async function bounded<T>(work: () => Promise<T> | T): Promise<{ value?: T; error?: unknown; ms: number }> {
  const start = performance.now();
  let timer: NodeJS.Timeout | undefined;
  try {
    const value = await Promise.race([
      Promise.resolve().then(work),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`hang: no result after ${PER_INPUT_MS} ms`)), PER_INPUT_MS);
      }),
    ]);
    return { value, ms: performance.now() - start };
  } catch (error) {
    if ((error as Error)?.message?.startsWith('hang:')) throw error;
    return { error, ms: performance.now() - start };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * One fuzz target as a test: `runs` inputs from `arb` (times FUZZ_MULTIPLIER), each given to `run`.
 * `check` may assert more about a result (invariants); errors must be ChainErrors.
 */
export function fuzzTarget<T, R>(
  name: string,
  arb: fc.Arbitrary<T>,
  run: (input: T) => Promise<R> | R,
  opts: {
    runs: number;
    check?: (result: R, input: T) => void;
    timeoutMs?: number;
    regressions?: T[];
    /** Error classes of a low-level parser its caller turns into warnings (besides ChainError). */
    typed?: readonly (new (...a: never[]) => Error)[];
  },
): void {
  const runs = opts.runs * FUZZ_MULTIPLIER;
  void it(`${name}: ${runs} inputs end in a result or a ChainError`, { timeout: opts.timeoutMs ?? 60_000 * FUZZ_MULTIPLIER }, async () => {
    const stats: TargetStats = { target: name, runs, results: 0, typedErrors: 0, peakRssMiB: 0, seconds: 0 };
    const started = performance.now();
    let peak = process.memoryUsage().rss;
    const property = async (input: T) => {
      const outcome = await bounded(() => run(input));
      if (outcome.ms > PER_INPUT_MS) throw new Error(`hang: one input took ${Math.round(outcome.ms)} ms (bound ${PER_INPUT_MS} ms)`);
      if ('error' in outcome && outcome.error !== undefined) {
        expectTyped(outcome.error, opts.typed);
        stats.typedErrors++;
      } else {
        stats.results++;
        opts.check?.(outcome.value as R, input);
      }
      const rss = process.memoryUsage().rss;
      if (rss > peak) peak = rss;
      if (rss > MAX_RSS) throw new Error(`memory: RSS ${Math.round(rss / 1024 ** 2)} MiB over the ${Math.round(MAX_RSS / 1024 ** 2)} MiB bound`);
    };
    // Inputs that once crashed a parser, kept as regression cases (run first, every time).
    for (const input of opts.regressions ?? []) await property(input);
    await fc.assert(fc.asyncProperty(arb, property), { seed: seedOf(name), numRuns: runs, endOnFailure: true });
    stats.peakRssMiB = Math.round(peak / 1024 ** 2);
    stats.seconds = Math.round((performance.now() - started) / 100) / 10;
    // One line per target, machine-readable, for the fuzz report.
    console.log(`FUZZ ${JSON.stringify(stats)}`);
  });
}

// ---------------------------------------------------------------------------------------------
// Mutations of real seeds: the structure stays mostly valid, so parsers get past their first checks.

const INTERESTING_32 = [0, 1, 0x7f, 0x80, 0xff, 0x7fff, 0x8000, 0xffff, 0x7fffffff, 0x80000000, 0xffffffff, 0xfffffffe, 0x10000];

type Mutation =
  | { kind: 'flip'; at: number; bit: number }
  | { kind: 'byte'; at: number; value: number }
  | { kind: 'int32'; at: number; value: number; le: boolean }
  | { kind: 'insert'; at: number; bytes: Uint8Array }
  | { kind: 'delete'; at: number; length: number }
  | { kind: 'duplicate'; at: number; length: number; to: number }
  | { kind: 'truncate'; at: number };

const position = fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true });

const mutationArb: fc.Arbitrary<Mutation & { pos: number; pos2: number }> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.constant(0), bit: fc.integer({ min: 0, max: 7 }), pos: position, pos2: position }),
  fc.record({
    kind: fc.constant('byte' as const),
    at: fc.constant(0),
    value: fc.constantFrom(0, 0xff, 0x7f, 0x80, 0x2f, 0x2e, 0x0a, 0x00, 0x30, 0x37),
    pos: position,
    pos2: position,
  }),
  fc.record({
    kind: fc.constant('int32' as const),
    at: fc.constant(0),
    value: fc.constantFrom(...INTERESTING_32),
    le: fc.boolean(),
    pos: position,
    pos2: position,
  }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.constant(0), bytes: fc.uint8Array({ maxLength: 64 }), pos: position, pos2: position }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.constant(0), length: fc.integer({ min: 1, max: 512 }), pos: position, pos2: position }),
  fc.record({
    kind: fc.constant('duplicate' as const),
    at: fc.constant(0),
    length: fc.integer({ min: 1, max: 1024 }),
    to: fc.constant(0),
    pos: position,
    pos2: position,
  }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.constant(0), pos: position, pos2: position }),
);

export function applyMutation(input: Buffer, m: Mutation & { pos: number; pos2: number }): Buffer {
  const at = Math.floor(m.pos * Math.max(input.length, 1));
  switch (m.kind) {
    case 'flip': {
      if (input.length === 0) return input;
      const out = Buffer.from(input);
      out[at] = out[at]! ^ (1 << m.bit);
      return out;
    }
    case 'byte': {
      if (input.length === 0) return input;
      const out = Buffer.from(input);
      out[at] = m.value;
      return out;
    }
    case 'int32': {
      if (input.length < 4) return input;
      const out = Buffer.from(input);
      const o = Math.min(at, input.length - 4);
      if (m.le) out.writeUInt32LE(m.value >>> 0, o);
      else out.writeUInt32BE(m.value >>> 0, o);
      return out;
    }
    case 'insert':
      return Buffer.concat([input.subarray(0, at), m.bytes, input.subarray(at)]);
    case 'delete':
      return Buffer.concat([input.subarray(0, at), input.subarray(at + m.length)]);
    case 'duplicate': {
      const to = Math.floor(m.pos2 * Math.max(input.length, 1));
      return Buffer.concat([input.subarray(0, to), input.subarray(at, at + m.length), input.subarray(to)]);
    }
    case 'truncate':
      return input.subarray(0, at);
  }
}

/** A seed (from `seeds`) with 0–`max` mutations applied; some inputs are random bytes instead. */
export function mutated(seeds: readonly Buffer[], max = 6): fc.Arbitrary<Buffer> {
  return fc.oneof(
    {
      weight: 9,
      arbitrary: fc
        .tuple(fc.integer({ min: 0, max: seeds.length - 1 }), fc.array(mutationArb, { maxLength: max }))
        .map(([i, ms]) => ms.reduce(applyMutation, seeds[i]!)),
    },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 4096 }).map((a) => Buffer.from(a)) },
  );
}

/** Text seeds mutated as bytes and decoded back (invalid UTF-8 included). */
export function mutatedText(seeds: readonly string[], max = 6): fc.Arbitrary<string> {
  return mutated(
    seeds.map((s) => Buffer.from(s)),
    max,
  ).map((b) => b.toString('utf8'));
}

/**
 * JSON seeds mutated as values: fields removed, replaced with other types, huge numbers, deep
 * nesting, long strings; plus byte-level mutations of the serialised text.
 */
export function mutatedJson(seeds: readonly unknown[]): fc.Arbitrary<string> {
  const weird = fc.oneof(
    fc.constantFrom(
      null,
      true,
      0,
      -1,
      1e308,
      -1e308,
      Number.MAX_SAFE_INTEGER + 2,
      '',
      'x'.repeat(10_000),
      [],
      {},
      '../../etc/passwd',
      '\u0000',
      'sha256:' + 'g'.repeat(64),
    ),
    fc.jsonValue({ maxDepth: 3 }),
    // Deep nesting, spliced into the text after serialisation (JSON.stringify cannot nest that far).
    fc.integer({ min: 1, max: 20_000 }).map((depth) => `${DEEP}${depth}`),
  );
  const valueMutation = fc
    .tuple(fc.integer({ min: 0, max: seeds.length - 1 }), fc.array(fc.tuple(position, weird, fc.boolean()), { maxLength: 4 }))
    .map(([i, edits]) => {
      const copy = structuredClone(seeds[i]) as unknown;
      for (const [pos, value, remove] of edits) mutateValue(copy, pos, value, remove);
      return (JSON.stringify(copy) ?? 'null').replace(new RegExp(`"${DEEP}(\\d+)"`, 'g'), (_m, d: string) => '['.repeat(Number(d)) + ']'.repeat(Number(d)));
    });
  return fc.oneof(
    { weight: 6, arbitrary: valueMutation },
    { weight: 3, arbitrary: mutatedText(seeds.map((s) => JSON.stringify(s))) },
    { weight: 1, arbitrary: fc.integer({ min: 1000, max: 50_000 }).map((d) => '{"a":'.repeat(d) + '1' + '}'.repeat(d)) },
  );
}

const DEEP = 'fuzz-deep-nesting:';

/** Replaces (or deletes) the node at a position of a pre-order walk of a JSON value. */
function mutateValue(root: unknown, pos: number, value: unknown, remove: boolean): void {
  const slots: [Record<string, unknown> | unknown[], string | number][] = [];
  const walk = (v: unknown) => {
    if (Array.isArray(v)) {
      v.forEach((c, i) => {
        slots.push([v, i]);
        walk(c);
      });
    } else if (v && typeof v === 'object') {
      for (const [k, c] of Object.entries(v)) {
        slots.push([v as Record<string, unknown>, k]);
        walk(c);
      }
    }
  };
  walk(root);
  if (slots.length === 0) return;
  const [parent, key] = slots[Math.floor(pos * slots.length)]!;
  if (remove && !Array.isArray(parent)) delete (parent as Record<string, unknown>)[key as string];
  else (parent as Record<string | number, unknown>)[key] = value;
}

export { fc };
