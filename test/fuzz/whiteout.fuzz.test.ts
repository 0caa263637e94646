/**
 * Whiteouts and layer application: random layers of files, directories, symlinks, hard links,
 * `.wh.` deletions and opaque directories over a small path alphabet (so they collide), checked
 * against the OCI rules: a whiteout removes the lower layers' path and subtree, an opaque directory
 * hides the lower layers' children, every node has its parent directories, and symlink resolution
 * always ends.
 */
import assert from 'node:assert/strict';
import { describe } from 'node:test';
import { type FileNode, FileTree, type LayerChanges, type NodeType } from '../../src/scan/fs/tree';
import { fc, fuzzTarget } from './harness';

const PATHS = ['/a', '/a/b', '/a/b/c', '/a/d', '/e', '/e/f', '/a/b/c/g', '/h'];
const path = fc.constantFrom(...PATHS);
const entry = fc.record({
  path,
  type: fc.constantFrom<NodeType>('file', 'directory', 'symlink', 'hardlink', 'other'),
  link: fc.constantFrom(...PATHS, '..', '../..', '.', 'b', '/', '../../../x'),
});
const layer = fc.record({ whiteouts: fc.array(path, { maxLength: 3 }), opaque: fc.array(path, { maxLength: 2 }), entries: fc.array(entry, { maxLength: 8 }) });

function build(layers: { whiteouts: string[]; opaque: string[]; entries: { path: string; type: NodeType; link: string }[] }[]): FileTree {
  const tree = new FileTree();
  layers.forEach((l, index) => {
    const digest = `sha256:layer${index}`;
    const changes: LayerChanges = {
      index,
      digest,
      whiteouts: l.whiteouts,
      opaqueDirs: l.opaque,
      entries: l.entries.map((e): FileNode => ({
        path: e.path,
        type: e.type,
        mode: 0o644,
        uid: 0,
        gid: 0,
        size: e.type === 'file' ? 1 : 0,
        layerIndex: index,
        layer: digest,
        ...(e.type === 'symlink' || e.type === 'hardlink' ? { linkname: e.link } : {}),
      })),
    };
    const before = new Map([...tree.files()].map((n) => [n.path, n]));
    tree.apply(changes);
    const written = new Set(l.entries.map((e) => e.path));
    const rewritten = (p: string) => [...written].some((w) => w === p || w.startsWith(`${p}/`));
    for (const w of l.whiteouts) {
      // A whiteout removes what lower layers had at the path and under it, unless this layer writes there again.
      for (const [p, node] of before) if ((p === w || p.startsWith(`${w}/`)) && !rewritten(p)) assert.notEqual(tree.get(p), node, `whiteout ${w} left ${p}`);
    }
    for (const dir of l.opaque) {
      for (const [p, node] of before) if (p.startsWith(`${dir}/`) && !rewritten(p)) assert.notEqual(tree.get(p), node, `opaque ${dir} left ${p}`);
    }
  });
  for (const node of tree.files()) {
    for (let p = node.path.slice(0, node.path.lastIndexOf('/')); p; p = p.slice(0, p.lastIndexOf('/')))
      assert.ok(tree.get(p), `${node.path} without its parent ${p}`);
  }
  for (const p of [...PATHS, ...PATHS.map((x) => `${x}/b/c`)]) {
    const resolved = tree.resolve(p);
    if (resolved) assert.ok(resolved.path === '/' || tree.get(resolved.path) === resolved, `resolve(${p}) left the tree`);
  }
  return tree;
}

void describe('fuzz: whiteouts and layer application', () => {
  fuzzTarget('whiteout', fc.array(layer, { minLength: 1, maxLength: 6 }), build, { runs: 1000 });
});
