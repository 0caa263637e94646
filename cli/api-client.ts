/**
 * The CLI's side of the control API: `--api <url>` (or DCHAIN_API_URL, default the local stack's
 * API), `--token <token>` (or DCHAIN_TOKEN, default the bootstrap admin token `npm start` wrote
 * into the data directory). Problems the API answers become ChainErrors with its code and detail.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Command } from 'commander';
import { type Config } from '../src/config';
import { ChainError, type ChainErrorCode } from '../src/errors';
import { ADMIN_TOKEN_FILE } from '../workers/process/bootstrap-token';
import { cliConfig } from './context';

export interface ApiOptions {
  api?: string;
  token?: string;
  json?: boolean;
}

export function withApiOptions(command: Command): Command {
  return command
    .option('--api <url>', 'control API base URL (default: $DCHAIN_API_URL, or the local stack)')
    .option('--token <token>', 'API token (default: $DCHAIN_TOKEN, or the local stack’s admin token)')
    .option('--json', 'machine-readable output');
}

export class ApiClient {
  constructor(
    readonly baseUrl: string,
    private readonly token: string | undefined,
  ) {}

  static from(config: Config, opts: ApiOptions): ApiClient {
    const base = opts.api ?? process.env.DCHAIN_API_URL ?? `http://${config.api.host === '0.0.0.0' ? '127.0.0.1' : config.api.host}:${config.api.port}`;
    let token = opts.token ?? process.env.DCHAIN_TOKEN;
    const file = join(config.dataDir, ADMIN_TOKEN_FILE);
    if (token === undefined && existsSync(file)) token = readFileSync(file, 'utf8').trim();
    return new ApiClient(base.replace(/\/+$/, ''), token);
  }

  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    if (!this.token) throw new ChainError('UNAUTHORIZED', 'no API token: pass --token or set DCHAIN_TOKEN (`dchain tokens create` makes one)');
    let res: Response;
    try {
      res = await fetch(`${this.baseUrl}${path}`, {
        method,
        headers: { authorization: `Bearer ${this.token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        signal: AbortSignal.timeout(60_000),
      });
    } catch (cause) {
      throw new ChainError('SERVICE_UNREACHABLE', `cannot reach the control API at ${this.baseUrl}: ${(cause as Error).message}`, { cause });
    }
    const text = await res.text();
    if (!res.ok) {
      let problem: { code?: string; detail?: string } = {};
      try {
        problem = JSON.parse(text) as typeof problem;
      } catch {
        // not a problem document
      }
      const code = (problem.code ??
        (res.status === 401 ? 'UNAUTHORIZED' : res.status === 403 ? 'DENIED' : res.status === 404 ? 'NOT_FOUND' : 'INTERNAL')) as ChainErrorCode;
      throw new ChainError(code, `${res.status} ${problem.detail ?? text.slice(0, 500)}`);
    }
    const type = res.headers.get('content-type') ?? '';
    return (type.includes('application/json') ? JSON.parse(text) : text) as T;
  }
}

/** The API client of a command (global --config, the command's --api/--token). */
export function apiClient(program: Command, opts: ApiOptions): ApiClient {
  return ApiClient.from(cliConfig(program.opts()), opts);
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}
