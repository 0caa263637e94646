/**
 * The part of a Dockerfile the build stage reports on: its stages (multi-stage or not) and the
 * external base images they start from, with global ARGs expanded as the builder would.
 * Follows the Dockerfile reference: parser directives, `#` comments, the escape character's line
 * continuations, heredocs (whose bodies are not instructions), and `$VAR`/`${VAR:-default}` in FROM.
 */
import { ChainError } from '../errors';

export interface DockerfileStage {
  name?: string;
  /** FROM's image after argument expansion: a base image, an earlier stage or `scratch`. */
  from: string;
  /** Set when `from` is an image pulled from a registry. */
  baseImage?: string;
}

export interface DockerfileSummary {
  stages: DockerfileStage[];
  multiStage: boolean;
  /** Distinct external base images, in order of first use. */
  baseImages: string[];
}

interface Instruction {
  keyword: string;
  args: string;
}

function escapeCharacter(lines: string[]): string {
  for (const line of lines) {
    const directive = /^#\s*([a-zA-Z]+)\s*=\s*(\S+)\s*$/.exec(line);
    if (!directive) break;
    if (directive[1]!.toLowerCase() === 'escape' && (directive[2] === '`' || directive[2] === '\\')) return directive[2];
  }
  return '\\';
}

function instructions(text: string): Instruction[] {
  const lines = text.replace(/\r\n?/g, '\n').split('\n');
  const escape = escapeCharacter(lines);
  const result: Instruction[] = [];
  let pending = '';
  let heredocEnd: string[] = [];
  for (const raw of lines) {
    if (heredocEnd.length > 0) {
      const trimmed = raw.replace(/^\t+/, '').trimEnd();
      if (trimmed === heredocEnd[0]) heredocEnd = heredocEnd.slice(1);
      continue;
    }
    if (/^\s*#/.test(raw)) continue;
    const line = raw.trimEnd();
    if (line.endsWith(escape)) {
      pending += `${line.slice(0, -1)} `;
      continue;
    }
    const full = (pending + line).trim();
    pending = '';
    if (full === '') continue;
    const match = /^(\S+)\s*(.*)$/.exec(full)!;
    const keyword = match[1]!.toUpperCase();
    result.push({ keyword, args: match[2]! });
    if (['RUN', 'COPY', 'ADD'].includes(keyword)) {
      heredocEnd = [...match[2]!.matchAll(/<<-?(["']?)([A-Za-z_][A-Za-z0-9_]*)\1/g)].map((m) => m[2]!);
    }
  }
  return result;
}

/** Shell-style expansion of `$NAME`, `${NAME}`, `${NAME:-word}` and `${NAME:+word}`. */
function expand(value: string, args: Map<string, string>): string {
  return value.replace(
    /\$(?:\{([A-Za-z_][A-Za-z0-9_]*)(?::([-+])([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*))/g,
    (_m, braced: string | undefined, op: string | undefined, word: string | undefined, bare: string | undefined) => {
      const current = args.get((braced ?? bare)!) ?? '';
      if (op === '-') return current !== '' ? current : (word ?? '');
      if (op === '+') return current !== '' ? (word ?? '') : '';
      return current;
    },
  );
}

/** `ARG NAME` or `ARG NAME=value` (one or more). */
function parseArgs(args: string): Array<[string, string | undefined]> {
  return args
    .split(/\s+/)
    .filter((a) => a !== '')
    .map((a) => {
      const eq = a.indexOf('=');
      return eq < 0 ? [a, undefined] : [a.slice(0, eq), a.slice(eq + 1).replace(/^(["'])(.*)\1$/, '$2')];
    });
}

export function summarizeDockerfile(text: string, buildArgs: Record<string, string> = {}): DockerfileSummary {
  const globalArgs = new Map<string, string>();
  const stages: DockerfileStage[] = [];
  const stageNames = new Set<string>();
  for (const { keyword, args } of instructions(text)) {
    if (keyword === 'ARG' && stages.length === 0) {
      for (const [name, value] of parseArgs(args)) globalArgs.set(name, buildArgs[name] ?? (value === undefined ? '' : expand(value, globalArgs)));
      continue;
    }
    if (keyword !== 'FROM') continue;
    const words = args.split(/\s+/).filter((w) => !w.startsWith('--'));
    const [image, as, stageName] = words;
    if (!image || (as !== undefined && (as.toUpperCase() !== 'AS' || !stageName))) {
      throw new ChainError('BUILD_FAILED', `Dockerfile: cannot read "FROM ${args}"`, { retryable: false });
    }
    const from = expand(image, globalArgs);
    if (from === '') throw new ChainError('BUILD_FAILED', `Dockerfile: "FROM ${args}" names no image (an ARG without a value?)`, { retryable: false });
    const isStage = stageNames.has(from.toLowerCase()) || from.toLowerCase() === 'scratch';
    stages.push({ ...(stageName ? { name: stageName } : {}), from, ...(isStage ? {} : { baseImage: from }) });
    if (stageName) stageNames.add(stageName.toLowerCase());
  }
  if (stages.length === 0) throw new ChainError('BUILD_FAILED', 'Dockerfile has no FROM instruction', { retryable: false });
  const baseImages = [...new Set(stages.flatMap((s) => (s.baseImage ? [s.baseImage] : [])))];
  return { stages, multiStage: stages.length > 1, baseImages };
}
