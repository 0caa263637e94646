import { readFileSync } from 'node:fs';
import { extname, isAbsolute, resolve } from 'node:path';
import type * as YamlModule from 'yaml';
import { type z } from 'zod';
import { ChainError } from '../errors';
import { type Config, configSchema, SECTION_KEYS, sectionSchema } from './schema';

export interface LoadConfigOptions {
  /** Path from --config; falls back to DCHAIN_CONFIG; absent = embedded defaults. */
  path?: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

/** Reads, overrides from the environment and validates the configuration. Throws CONFIG_* ChainErrors. */
export function loadConfig(options: LoadConfigOptions = {}): Config {
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  const path = options.path ?? env.DCHAIN_CONFIG;
  const raw = path === undefined || path === '' ? {} : readConfigFile(isAbsolute(path) ? path : resolve(cwd, path));
  return parseConfig(applyEnvOverrides(raw, env), path);
}

export function parseConfig(raw: unknown, origin = 'configuration'): Config {
  let config = bySection(raw);
  if (!config) {
    // Something is invalid: the whole schema names every problem at once, with its path.
    const result = configSchema.safeParse(raw);
    if (!result.success) {
      throw new ChainError('CONFIG_INVALID', `invalid ${origin}:\n${describeIssues(result.error.issues, raw)}`, {
        details: { issues: result.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })) },
      });
    }
    config = result.data;
  }
  checkReferences(config, origin);
  return config;
}

/**
 * The configuration with each section the input has validated now and each one it leaves out (its defaults) on
 * first read, so a command builds the schemas of the sections it uses only; undefined when the input is not an
 * object, has an unknown key or an invalid section. The result reads like the whole schema's output: the same keys
 * in the same order, enumerable, each section validated by its schema.
 */
function bySection(raw: unknown): Config | undefined {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return undefined;
  const input = raw as Record<string, unknown>;
  if (Object.keys(input).some((key) => !(SECTION_KEYS as string[]).includes(key))) return undefined;
  const config = {} as Config;
  const settle = (key: keyof Config, value: unknown) => Object.defineProperty(config, key, { value, enumerable: true, writable: true, configurable: true });
  for (const key of SECTION_KEYS) {
    if (input[key] !== undefined) {
      const result = sectionSchema(key).safeParse(input[key]);
      if (!result.success) return undefined;
      settle(key, result.data);
    } else {
      Object.defineProperty(config, key, {
        enumerable: true,
        configurable: true,
        get: () => {
          const value: unknown = sectionSchema(key).parse(undefined);
          settle(key, value);
          return value;
        },
        set: (value: unknown) => settle(key, value),
      });
    }
  }
  return config;
}

function readConfigFile(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (cause) {
    throw new ChainError('CONFIG_UNREADABLE', `cannot read configuration file ${path}: ${(cause as Error).message}`, { cause });
  }
  try {
    if (extname(path) === '.json') return JSON.parse(text);
    // The YAML parser is loaded only for a YAML file: most commands run on the embedded defaults, and it is start-up time.
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- lazy on purpose, see above
    const YAML = require('yaml') as typeof YamlModule;
    return YAML.parse(text, { prettyErrors: true });
  } catch (cause) {
    throw new ChainError(
      'CONFIG_INVALID',
      `configuration file ${path} is not valid ${extname(path) === '.json' ? 'JSON' : 'YAML'}: ${(cause as Error).message}`,
      { cause },
    );
  }
}

/** Each issue on one line: the field path, what is wrong, and the value found there. */
function describeIssues(issues: readonly z.core.$ZodIssue[], raw: unknown): string {
  return issues
    .map((issue) => {
      const path = issue.path.join('.') || '(root)';
      if (issue.code === 'unrecognized_keys') {
        const where = issue.path.length ? `${path}: ` : '';
        return `  - ${where}unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}`;
      }
      const value = valueAt(raw, issue.path);
      const shown = value === undefined ? 'missing' : `got ${JSON.stringify(value)}`;
      return `  - ${path}: ${issue.message} (${shown})`;
    })
    .join('\n');
}

function valueAt(raw: unknown, path: readonly PropertyKey[]): unknown {
  let current: unknown = raw;
  for (const key of path) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<PropertyKey, unknown>)[key];
  }
  if (typeof current === 'string' && /secret|password|token/i.test(path.join('.'))) return '[redacted]';
  return current;
}

function checkReferences(config: Config, origin: string): void {
  const registries = new Set(config.registries.map((r) => r.name));
  const problems: string[] = [];
  if (registries.size !== config.registries.length) problems.push('registries: names must be unique');
  config.sources.forEach((s, i) => {
    if (!registries.has(s.registry)) problems.push(`sources.${i}.registry: no registry named "${s.registry}"`);
  });
  config.sync.targets.forEach((t, i) => {
    if (!registries.has(t.registry)) problems.push(`sync.targets.${i}.registry: no registry named "${t.registry}"`);
  });
  if (new Set(config.sources.map((s) => s.name)).size !== config.sources.length) problems.push('sources: names must be unique');
  if (problems.length) throw new ChainError('CONFIG_INVALID', `invalid ${origin}:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
}

/**
 * Addresses and secrets can come from the environment so that files can be committed without them:
 * DCHAIN_TEMPORAL_ADDRESS, DCHAIN_TEMPORAL_NAMESPACE, DCHAIN_REDIS_URL, DCHAIN_REDIS_USERNAME, DCHAIN_REDIS_PASSWORD (with
 * redis.sentinel: the data nodes' password, and DCHAIN_REDIS_SENTINEL_PASSWORD), DCHAIN_API_PORT, DCHAIN_API_ADMIN_TOKEN, DCHAIN_DATA_DIR,
 * DCHAIN_REGISTRY_<NAME>_URL / _USERNAME / _PASSWORD / _TOKEN, DCHAIN_SOURCE_<NAME>_SECRET / _HMAC_SECRET
 * (NAME upper-cased, dashes as underscores).
 */
export function applyEnvOverrides(raw: unknown, env: NodeJS.ProcessEnv): unknown {
  if (raw !== null && raw !== undefined && (typeof raw !== 'object' || Array.isArray(raw))) return raw; // let the schema name it
  const cfg: Record<string, unknown> = raw ? structuredClone(raw as Record<string, unknown>) : {};
  const section = (key: string): Record<string, unknown> => {
    const existing = cfg[key];
    if (existing !== null && typeof existing === 'object' && !Array.isArray(existing)) return existing as Record<string, unknown>;
    const created: Record<string, unknown> = {};
    cfg[key] = created;
    return created;
  };
  if (env.DCHAIN_TEMPORAL_ADDRESS) section('temporal').address = env.DCHAIN_TEMPORAL_ADDRESS;
  if (env.DCHAIN_TEMPORAL_NAMESPACE) section('temporal').namespace = env.DCHAIN_TEMPORAL_NAMESPACE;
  if (env.DCHAIN_REDIS_URL) section('redis').url = env.DCHAIN_REDIS_URL;
  if (env.DCHAIN_API_PORT) section('api').port = Number(env.DCHAIN_API_PORT);
  if (env.DCHAIN_API_ADMIN_TOKEN) section('api').adminToken = env.DCHAIN_API_ADMIN_TOKEN;
  if (env.DCHAIN_DATA_DIR) cfg.dataDir = env.DCHAIN_DATA_DIR;
  if (env.DCHAIN_LOG_LEVEL) section('log').level = env.DCHAIN_LOG_LEVEL;
  // Redis behind Sentinel: the data nodes' and the Sentinels' AUTH passwords.
  const sentinel = section('redis').sentinel;
  if (sentinel !== null && typeof sentinel === 'object' && !Array.isArray(sentinel)) {
    if (env.DCHAIN_REDIS_PASSWORD) (sentinel as Record<string, unknown>).password = env.DCHAIN_REDIS_PASSWORD;
    if (env.DCHAIN_REDIS_SENTINEL_PASSWORD) (sentinel as Record<string, unknown>).sentinelPassword = env.DCHAIN_REDIS_SENTINEL_PASSWORD;
  } else if (env.DCHAIN_REDIS_PASSWORD) {
    // redis.url's AUTH; the environment wins over a password file named in the file.
    const redis = section('redis');
    redis.password = env.DCHAIN_REDIS_PASSWORD;
    delete redis.passwordFile;
  }
  if (env.DCHAIN_REDIS_USERNAME) section('redis').username = env.DCHAIN_REDIS_USERNAME;

  const envKey = (n: unknown) => String(n).toUpperCase().replace(/-/g, '_');
  const withDefaults = (key: 'registries' | 'sources') => {
    if (!Array.isArray(cfg[key])) {
      const hasOverride = Object.keys(env).some((k) => k.startsWith(key === 'registries' ? 'DCHAIN_REGISTRY_' : 'DCHAIN_SOURCE_'));
      if (!hasOverride) return undefined;
      cfg[key] = structuredClone(sectionSchema(key).parse(undefined));
    }
    return cfg[key] as Array<Record<string, unknown>>;
  };
  for (const registry of withDefaults('registries') ?? []) {
    if (registry === null || typeof registry !== 'object') continue;
    const prefix = `DCHAIN_REGISTRY_${envKey(registry.name)}_`;
    if (env[`${prefix}URL`]) registry.url = env[`${prefix}URL`];
    if (env[`${prefix}USERNAME`] !== undefined || env[`${prefix}PASSWORD`] !== undefined) {
      registry.credentials = { username: env[`${prefix}USERNAME`] ?? '', password: env[`${prefix}PASSWORD`] ?? '' };
    }
    if (env[`${prefix}TOKEN`]) registry.credentials = { token: env[`${prefix}TOKEN`] };
  }
  for (const source of withDefaults('sources') ?? []) {
    if (source === null || typeof source !== 'object') continue;
    const prefix = `DCHAIN_SOURCE_${envKey(source.name)}_`;
    if (env[`${prefix}SECRET`]) source.secret = env[`${prefix}SECRET`];
    if (env[`${prefix}HMAC_SECRET`]) source.hmacSecret = env[`${prefix}HMAC_SECRET`];
  }
  return cfg;
}
