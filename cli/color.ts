/**
 * Colour on the command line: only when the stream is a terminal, never with NO_COLOR set to anything
 * (https://no-color.org) or TERM=dumb; FORCE_COLOR turns it on where no terminal is (CI logs that render it).
 */
const CODES = { red: 31, yellow: 33, cyan: 36, dim: 2 } as const;

export function colorEnabled(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== '' && env.FORCE_COLOR !== '0') return true;
  return stream.isTTY === true && env.TERM !== 'dumb';
}

export function paint(text: string, color: keyof typeof CODES): string {
  return `\u001b[${CODES[color]}m${text}\u001b[0m`;
}
