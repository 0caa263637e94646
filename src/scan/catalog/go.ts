/** Go modules compiled into binaries (main module, dependencies and the standard library). */
import { type Package } from '../types';
import { type GoBuildInfo, isElf, parseGoBuildInfo } from './go-buildinfo';
import { golangPurl } from './purl';
import { type Cataloger } from './types';

const FACT = 'go-buildinfo';

export const goCataloger: Cataloger = {
  name: 'go',
  policy: {
    keep: () => false,
    inspectors: [
      {
        name: FACT,
        candidate: (_path, mode, size) => (mode & 0o111) !== 0 && size > 1024,
        accepts: isElf,
        inspect: (_path, content) => parseGoBuildInfo(content),
        inPlace: true, // the fact is strings only
      },
    ],
  },
  catalog(ctx) {
    const out: Package[] = [];
    for (const node of ctx.tree.files()) {
      const info = node.facts?.[FACT] as GoBuildInfo | undefined;
      if (!info) continue;
      const add = (name: string, version: string) =>
        out.push({ name, version, ecosystem: 'Go', purl: golangPurl(name, version), layer: node.layer, location: node.path });
      // "(devel)" is a main module built from a checkout: no version to match.
      if (info.main && info.main.version && info.main.version !== '(devel)') add(info.main.path, info.main.version);
      for (const dep of info.deps) if (dep.version) add(dep.path, dep.version);
      add('stdlib', info.goVersion.replace(/ .*$/, ''));
    }
    return out;
  },
};
