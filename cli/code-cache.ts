/**
 * V8's code cache for the bundled command modules. Node 20 compiles every CommonJS file from source at each start
 * (`module.enableCompileCache` is Node 22); `npm run build` stores, next to each bundle, the code V8 compiled while
 * loading it, and a command loads its bundle with it instead of parsing the megabyte again. V8 checks the cache
 * against its version, its flags and the source, and compiles from source when it does not match: a stale or foreign
 * cache costs one file read.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import Module from 'node:module';
import { dirname } from 'node:path';
import { Script } from 'node:vm';

const cacheOf = (file: string) => `${file}.cache`;

/** Compiles and runs `file` as CommonJS (as require does), with `cachedData` when given; the module and its script. */
function run(file: string, cachedData?: Buffer): { exports: unknown; script: Script } {
  const script = new Script(Module.wrap(readFileSync(file, 'utf8')), { filename: file, ...(cachedData ? { cachedData } : {}) });
  const mod = new Module(file, module);
  mod.filename = file;
  // Module's own helper for the node_modules directories a file's requires search (what require sets for it).
  mod.paths = (Module as unknown as { _nodeModulePaths(dir: string): string[] })._nodeModulePaths(dirname(file));
  const wrapper = script.runInThisContext() as (exports: unknown, req: NodeJS.Require, mod: Module, filename: string, dir: string) => void;
  const req = ((id: string) => mod.require(id)) as NodeJS.Require;
  wrapper.call(mod.exports, mod.exports, req, mod, file, dirname(file));
  return { exports: mod.exports, script };
}

/** The module `file` exports, loaded through its code cache; undefined when the build stored none (run from source). */
export function requireWithCodeCache(file: string): unknown {
  const cache = cacheOf(file);
  if (!existsSync(cache) || !existsSync(file)) return undefined;
  return run(file, readFileSync(cache)).exports;
}

/** Loads `file` once and stores the code V8 compiled for it, the top level and what loading it ran. */
export function writeCodeCache(file: string): void {
  writeFileSync(cacheOf(file), run(file).script.createCachedData());
}
