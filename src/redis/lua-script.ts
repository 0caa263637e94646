import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Redis } from 'ioredis';

/** A Lua script with its SHA-1, for EVALSHA. */
export interface LuaScript {
  lua: string;
  sha: string;
}

/**
 * A script of `<dir>/scripts/<name>` (a .lua file next to the module that runs it, copied into dist/
 * by `npm run build`), read once when that module loads.
 */
export function luaScriptFile(dir: string, name: string): LuaScript {
  const lua = readFileSync(join(dir, 'scripts', name), 'utf8');
  return { lua, sha: createHash('sha1').update(lua).digest('hex') };
}

/** EVALSHA, sending the script itself on NOSCRIPT (a restarted Redis has forgotten it). */
export async function runLuaScript(redis: Redis, script: LuaScript, keys: string[], args: string[]): Promise<unknown> {
  try {
    return await redis.evalsha(script.sha, keys.length, ...keys, ...args);
  } catch (err) {
    if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err;
    return redis.eval(script.lua, keys.length, ...keys, ...args);
  }
}
