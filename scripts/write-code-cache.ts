/**
 * `node dist/scripts/write-code-cache.js <bundle>`: stores V8's code cache beside one command bundle (cli/code-cache.ts).
 * scripts/bundle-cli.ts runs it once per bundle, each in a process of its own, compiled: V8 accepts a cache only from
 * the same version and flags, so it is made as the command will load it, by plain node.
 */
import { writeCodeCache } from '../cli/code-cache';

const file = process.argv[2];
if (!file) {
  process.stderr.write('usage: write-code-cache <bundle.js>\n');
  process.exit(2);
}
writeCodeCache(file);
