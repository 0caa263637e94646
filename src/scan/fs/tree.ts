/**
 * The final filesystem view of an image: layers applied in order with OCI whiteouts
 * (`.wh.<name>` deletes, `.wh..wh..opq` hides everything a lower layer put in the directory).
 * Only metadata is kept for every file; content only for the files catalogers asked for.
 */
import { normalizeEntryPath, normalizeWithinRoot, parentOf } from './path';

export type NodeType = 'file' | 'directory' | 'symlink' | 'hardlink' | 'other';

export interface FileNode {
  path: string;
  type: NodeType;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  linkname?: string;
  /** Index and digest of the layer that wrote this version. */
  layerIndex: number;
  layer: string;
  /** Captured content (files catalogers asked for only). */
  content?: Buffer;
  /** Facts extracted in-stream from content that is not kept (e.g. Go build info, private key marker). */
  facts?: Record<string, unknown>;
}

/** What one layer does, in tar order: deletions (whiteouts) and additions. */
export interface LayerChanges {
  index: number;
  digest: string;
  whiteouts: string[];
  opaqueDirs: string[];
  entries: FileNode[];
}

const MAX_SYMLINK_HOPS = 40;

/** The root directory, which no layer lists: what a symlink to '/' (or climbing above it) resolves to. */
const ROOT: FileNode = Object.freeze({ path: '/', type: 'directory', mode: 0o755, uid: 0, gid: 0, size: 0, layerIndex: -1, layer: '' });

export class FileTree {
  private readonly nodes = new Map<string, FileNode>();
  /** Children by directory, so whiteouts of a directory remove its subtree without a full scan. */
  private readonly children = new Map<string, Set<string>>();
  /** Bytes written by lower layers that a later layer overwrote or deleted. */
  wastedBytes = 0;
  /** Bytes of regular files written by all layers. */
  writtenBytes = 0;

  get size(): number {
    return this.nodes.size;
  }

  get(path: string): FileNode | undefined {
    return this.nodes.get(path);
  }

  files(): IterableIterator<FileNode> {
    return this.nodes.values();
  }

  apply(layer: LayerChanges): void {
    // Whiteouts only hide what lower layers wrote, wherever they appear in this layer's tar.
    for (const dir of layer.opaqueDirs) for (const child of [...(this.children.get(dir) ?? [])]) this.remove(child);
    for (const path of layer.whiteouts) this.remove(path);
    for (const entry of layer.entries) this.add(entry);
  }

  private add(node: FileNode): void {
    const existing = this.nodes.get(node.path);
    if (existing) {
      // A directory over a directory merges; anything else replaces the old node (and its subtree).
      if (existing.type === 'directory' && node.type === 'directory') {
        this.nodes.set(node.path, node);
        return;
      }
      this.remove(node.path);
    }
    this.ensureParents(node.path, node);
    this.nodes.set(node.path, node);
    if (node.type === 'file') this.writtenBytes += node.size;
  }

  private ensureParents(path: string, from: FileNode): void {
    let child = path;
    while (child !== '/') {
      const parent = parentOf(child);
      let set = this.children.get(parent);
      if (!set) {
        set = new Set();
        this.children.set(parent, set);
      }
      const known = set.has(child);
      set.add(child);
      if (known || parent === '/') break;
      if (!this.nodes.has(parent)) {
        this.nodes.set(parent, { path: parent, type: 'directory', mode: 0o755, uid: 0, gid: 0, size: 0, layerIndex: from.layerIndex, layer: from.layer });
      }
      child = parent;
    }
  }

  private remove(path: string): void {
    const node = this.nodes.get(path);
    if (!node) return;
    for (const child of [...(this.children.get(path) ?? [])]) this.remove(child);
    this.children.delete(path);
    this.children.get(parentOf(path))?.delete(path);
    this.nodes.delete(path);
    if (node.type === 'file') this.wastedBytes += node.size;
  }

  /**
   * Follows symlinks (absolute ones from the image root, relative ones from their directory) inside
   * the image only; returns undefined for dangling links and loops.
   */
  resolve(path: string, depth = 0): FileNode | undefined {
    if (depth > MAX_SYMLINK_HOPS) return undefined;
    let current = normalizeEntryPath(path);
    for (let hops = 0; current !== undefined && hops <= MAX_SYMLINK_HOPS; hops++) {
      const resolvedDirs = this.resolveDirs(current, depth);
      if (resolvedDirs === undefined) return undefined;
      const node = resolvedDirs === '/' ? ROOT : this.nodes.get(resolvedDirs);
      if (!node) return undefined;
      if (node.type === 'hardlink') return node.linkname ? this.nodes.get(node.linkname) : undefined;
      if (node.type !== 'symlink') return node;
      const target = node.linkname ?? '';
      current = normalizeWithinRoot(target.startsWith('/') ? target : `${parentOf(resolvedDirs)}/${target}`);
    }
    return undefined;
  }

  /** Resolves symlinked directories along the path ('/lib/x' where /lib -> usr/lib). */
  private resolveDirs(path: string, depth: number): string | undefined {
    const parts = path.split('/').filter(Boolean);
    let resolved = '';
    for (const [i, part] of parts.entries()) {
      const candidate = `${resolved}/${part}`;
      if (i === parts.length - 1) return candidate;
      const node = this.nodes.get(candidate);
      if (node?.type === 'symlink') {
        const dir = this.resolve(candidate, depth + 1);
        if (!dir || dir.type !== 'directory') return undefined;
        resolved = dir.path === '/' ? '' : dir.path;
      } else resolved = candidate;
    }
    return resolved || '/';
  }

  /** Content of a captured file (following symlinks), undefined when absent or not captured. */
  read(path: string): Buffer | undefined {
    return this.resolve(path)?.content;
  }

  /** Every path starting with `prefix` (a directory path ending in '/'). */
  *under(prefix: string): IterableIterator<FileNode> {
    for (const node of this.nodes.values()) if (node.path.startsWith(prefix)) yield node;
  }
}
