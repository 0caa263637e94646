/**
 * Catalogs one tree (npm packages and PyPI distributions whose names sort differently under some locales) and
 * prints the packages' names in the order the scan lists them: the test runs this under several locales (the
 * collation a process starts with is read from LANG and LC_ALL, so it cannot change within one).
 */
import { catalogImage } from '../../src/scan/catalog';
import { type FileNode, FileTree } from '../../src/scan/fs/tree';

const files: Record<string, string> = {};
for (const name of ['yaml', 'jest', 'iconv']) files[`/srv/node_modules/${name}/package.json`] = JSON.stringify({ name, version: '1.0.0' });
for (const name of ['asgiref', 'Django'])
  files[`/usr/lib/python3/dist-packages/${name}-4.0.dist-info/METADATA`] = `Metadata-Version: 2.1\nName: ${name}\nVersion: 4.0\n`;
const tree = new FileTree();
const entries: FileNode[] = Object.entries(files).map(([path, text]) => {
  const content = Buffer.from(text);
  return { path, type: 'file', mode: 0o644, uid: 0, gid: 0, size: content.length, layerIndex: 0, layer: 'sha256:l0', content };
});
tree.apply({ index: 0, digest: 'sha256:l0', whiteouts: [], opaqueDirs: [], entries });
void catalogImage({ tree, arch: 'amd64' }).then(({ packages }) => {
  process.stdout.write(`${JSON.stringify({ locale: new Intl.Collator().resolvedOptions().locale, names: packages.map((p) => p.name) })}\n`);
});
