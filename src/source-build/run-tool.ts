/**
 * Runs a command-line tool (git, buildah) without a shell, collecting its output, streaming its
 * lines to a callback and stopping it on abort or timeout. Failures carry stderr for classification.
 */
import { spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { ChainError } from '../errors';

export interface ToolRun {
  stdout: string;
  stderr: string;
}

export class ToolFailure extends Error {
  override readonly name = 'ToolFailure';
  constructor(
    readonly command: string,
    readonly exitCode: number | null,
    readonly stderr: string,
    readonly reason: 'exit' | 'timeout' | 'aborted' | 'spawn',
  ) {
    super(
      `${command} ${reason === 'exit' ? `exited with ${exitCode}` : reason === 'timeout' ? 'timed out' : reason === 'aborted' ? 'was cancelled' : 'could not start'}: ${lastLines(stderr)}`,
    );
  }
}

/** The last few lines of a tool's error output: enough to say what went wrong without flooding logs. */
export function lastLines(text: string, count = 6): string {
  return text.trim().split('\n').slice(-count).join('\n');
}

/** Tools whose output is read (JSON of inspect, digests) print far less; build logs go to onLine. */
const MAX_STDOUT_CHARS = 8 * 1024 * 1024;

export interface RunToolOptions {
  /** How errors name the command, e.g. `buildah bud`. */
  label: string;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
  signal?: AbortSignal;
  onLine?: (line: string) => void;
}

export function runTool(executable: string, args: string[], opts: RunToolOptions): Promise<ToolRun> {
  const command = opts.label;
  return new Promise((resolve, reject) => {
    if (opts.signal?.aborted) return reject(new ToolFailure(command, null, '', 'aborted'));
    const child = spawn(executable, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let partial = '';
    let stopped: 'timeout' | 'aborted' | undefined;
    const stop = (why: 'timeout' | 'aborted') => {
      stopped = why;
      child.kill('SIGTERM');
      setTimeout(() => child.kill('SIGKILL'), 5_000).unref();
    };
    const timer = opts.timeoutMs ? setTimeout(() => stop('timeout'), opts.timeoutMs) : undefined;
    const onAbort = () => stop('aborted');
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    const lines = (chunk: string) => {
      if (!opts.onLine) return;
      const parts = (partial + chunk).split('\n');
      partial = parts.pop()!;
      for (const line of parts) if (line.trim() !== '') opts.onLine(line);
    };
    child.stdout.setEncoding('utf8').on('data', (c: string) => {
      if (stdout.length < MAX_STDOUT_CHARS) stdout += c;
      lines(c);
    });
    child.stderr.setEncoding('utf8').on('data', (c: string) => {
      // Keep the tail only: a long build's log is not held in memory.
      stderr = (stderr + c).slice(-64 * 1024);
      lines(c);
    });
    child.on('error', (err) => {
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      reject(new ToolFailure(command, null, err.message, 'spawn'));
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      if (stopped) return reject(new ToolFailure(command, code, stderr, stopped));
      if (code !== 0) return reject(new ToolFailure(command, code, stderr, 'exit'));
      resolve({ stdout, stderr });
    });
  });
}

/** Absolute path of a system tool on PATH; a missing tool is a permanent, clearly named problem. */
export function locateTool(name: string, hint: string): string {
  for (const dir of [...(process.env.PATH ?? '').split(delimiter), '/usr/local/bin', '/usr/bin', '/bin']) {
    if (!dir) continue;
    try {
      accessSync(join(dir, name), constants.X_OK);
      return join(dir, name);
    } catch {
      // not in this directory
    }
  }
  throw new ChainError('PREREQUISITE_MISSING', `${name} is not installed (${hint})`);
}
