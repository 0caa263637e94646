import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, extname, isAbsolute, resolve } from 'node:path';
import YAML from 'yaml';
import { type z } from 'zod';
import { ChainError } from '../errors';
import { byCodeUnits, readVexText, type VexStatement } from '../scan';
import { type Policy, policySchema } from './policy-schema';

/** A validated policy with its key material read and a version that changes with its content. */
export interface LoadedPolicy {
  policy: Policy;
  /** `<name>:<metadata.version or "unversioned">:sha256-<12 hex of the canonical policy>` */
  version: string;
  /** PEM public keys by trusted key id. */
  keys: ReadonlyMap<string, string>;
  origin: string;
  /** Statements of the VEX documents the policy names (read when the policy is loaded). */
  vex?: readonly VexStatement[];
}

const MAX_FLOW_DEPTH = 64;

/** Deepest nesting of `{` / `[` outside quoted strings (YAML flow collections, JSON). */
function flowDepth(text: string): number {
  let depth = 0;
  let max = 0;
  let quote: string | undefined;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quote) {
      if (c === '\\' && quote === '"') i++;
      else if (c === quote) quote = undefined;
    } else if (c === '"' || c === "'") quote = c;
    else if (c === '{' || c === '[') max = Math.max(max, ++depth);
    else if (c === '}' || c === ']') depth = Math.max(0, depth - 1);
  }
  return max;
}

/** Reads a YAML or JSON policy file; throws CONFIG_UNREADABLE / CONFIG_INVALID naming every problem. */
export function loadPolicyFile(path: string, cwd = process.cwd()): LoadedPolicy {
  const file = isAbsolute(path) ? path : resolve(cwd, path);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (cause) {
    throw new ChainError('CONFIG_UNREADABLE', `cannot read policy file ${file}: ${(cause as Error).message}`, { cause });
  }
  const depth = flowDepth(text);
  // The YAML parser takes seconds per level past a few thousand; no policy nests beyond a handful.
  if (depth > MAX_FLOW_DEPTH) throw new ChainError('CONFIG_INVALID', `policy file ${file} nests brackets ${depth} levels deep (at most ${MAX_FLOW_DEPTH})`);
  let raw: unknown;
  try {
    raw = extname(file) === '.json' ? JSON.parse(text) : YAML.parse(text, { prettyErrors: true });
  } catch (cause) {
    throw new ChainError('CONFIG_INVALID', `policy file ${file} is not valid ${extname(file) === '.json' ? 'JSON' : 'YAML'}: ${(cause as Error).message}`, {
      cause,
    });
  }
  return parsePolicy(raw, file, dirname(file));
}

/** Validates a policy object; key files are resolved against `baseDir`. */
export function parsePolicy(raw: unknown, origin = 'policy', baseDir = process.cwd()): LoadedPolicy {
  const result = policySchema.safeParse(raw);
  if (!result.success) {
    throw new ChainError('CONFIG_INVALID', `invalid ${origin}:\n${describeIssues(result.error.issues)}`, {
      details: { issues: result.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })) },
    });
  }
  const policy = result.data;
  const problems = referenceProblems(policy);
  if (problems.length) throw new ChainError('CONFIG_INVALID', `invalid ${origin}:\n${problems.map((p) => `  - ${p}`).join('\n')}`, { details: { problems } });
  const keys = new Map<string, string>();
  for (const key of policy.trustedKeys) keys.set(key.id, key.publicKey ?? readKeyFile(key.publicKeyFile as string, baseDir, origin));
  const vex = (policy.vex?.documents ?? []).flatMap((ref) => readVexFile(typeof ref === 'string' ? { path: ref } : ref, baseDir, origin));
  return { policy, version: policyVersion(policy, vex), keys, origin, ...(vex.length ? { vex } : {}) };
}

/** A VEX document the policy names: unreadable or invalid stops the policy from loading, naming each problem. */
function readVexFile(ref: { path: string; expires?: string }, baseDir: string, origin: string): VexStatement[] {
  const file = isAbsolute(ref.path) ? ref.path : resolve(baseDir, ref.path);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (cause) {
    throw new ChainError('CONFIG_UNREADABLE', `${origin}: cannot read VEX document ${file}: ${(cause as Error).message}`, { cause });
  }
  const read = readVexText(text, file, ref.expires ? { expires: ref.expires } : {});
  if (!read.ok)
    throw new ChainError('CONFIG_INVALID', `${origin}: VEX document ${file} is invalid:\n${read.problems.map((p) => `  - ${p}`).join('\n')}`, {
      details: { problems: read.problems },
    });
  return read.statements;
}

function readKeyFile(path: string, baseDir: string, origin: string): string {
  const file = isAbsolute(path) ? path : resolve(baseDir, path);
  let pem: string;
  try {
    pem = readFileSync(file, 'utf8');
  } catch (cause) {
    throw new ChainError('CONFIG_UNREADABLE', `${origin}: cannot read public key file ${file}: ${(cause as Error).message}`, { cause });
  }
  if (!pem.includes('-----BEGIN PUBLIC KEY-----')) throw new ChainError('CONFIG_INVALID', `${origin}: ${file} is not a PEM public key`);
  return pem;
}

/** Cross-field checks the schema cannot express. */
function referenceProblems(policy: Policy): string[] {
  const problems: string[] = [];
  const keyIds = new Set(policy.trustedKeys.map((k) => k.id));
  if (keyIds.size !== policy.trustedKeys.length) problems.push('trustedKeys: ids must be unique');
  if (new Set(policy.rules.map((r) => r.name)).size !== policy.rules.length) problems.push('rules: names must be unique');
  policy.rules.forEach((rule, i) => {
    for (const key of rule.provenance?.requireSignatures?.keys ?? []) {
      if (!keyIds.has(key)) problems.push(`rules.${i}.provenance.requireSignatures.keys: no trusted key with id "${key}"`);
    }
  });
  return problems;
}

/** The VEX documents' statements count too: editing one changes what the policy decides. */
function policyVersion(policy: Policy, vex: readonly VexStatement[]): string {
  const sha = createHash('sha256').update(canonicalJson(policy));
  if (vex.length) sha.update(canonicalJson(vex));
  const hash = sha.digest('hex').slice(0, 12);
  return `${policy.metadata.name}:${policy.metadata.version ?? 'unversioned'}:sha256-${hash}`;
}

/** JSON with object keys sorted, so the version does not depend on key order in the file. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => byCodeUnits(a, b));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

function describeIssues(issues: readonly z.core.$ZodIssue[]): string {
  return issues
    .map((issue) => {
      const path = issue.path.join('.') || '(root)';
      if (issue.code === 'unrecognized_keys')
        return `  - ${path}: unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}`;
      return `  - ${path}: ${issue.message}`;
    })
    .join('\n');
}
