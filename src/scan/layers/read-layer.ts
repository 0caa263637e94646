/**
 * Streams one layer blob through decompression and tar parsing — nothing is written to disk —
 * and returns the layer's changes (whiteouts, entries with captured content and facts).
 */
import { type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { extract as tarExtract, type Header } from 'tar-stream';
import { ChainError } from '../../errors';
import { baseName, normalizeEntryPath, parentOf } from '../fs/path';
import { type FileNode, type LayerChanges, type NodeType } from '../fs/tree';
import { type CapturePolicy } from './capture';
import { layerDecoder, type LayerStats } from './decompress';
import { type LayerLimits } from './limits';

const WHITEOUT = '.wh.';
const OPAQUE = '.wh..wh..opq';

export interface LayerReadResult {
  changes: LayerChanges;
  stats: LayerStats;
  /** Entries refused as unsafe (paths escaping the root, over-long names). */
  refused: { name: string; reason: string }[];
}

export interface LayerReadOptions {
  index: number;
  digest: string;
  limits: LayerLimits;
  policy: CapturePolicy;
  /** Shared across the image's layers. */
  entryBudget: { remaining: number };
  /** Uncompressed bytes of all the image's layers so far (maxImageUncompressedBytes), shared likewise. */
  imageBytes?: { total: number };
  onBytes?: (compressedBytes: number) => void;
}

function nodeType(header: Header): NodeType {
  switch (header.type) {
    case 'file':
    case 'contiguous-file':
      return 'file';
    case 'directory':
      return 'directory';
    case 'symlink':
      return 'symlink';
    case 'link':
      return 'hardlink';
    default:
      return 'other';
  }
}

async function readAll(entry: AsyncIterable<Buffer>, first: Buffer[], limit: number): Promise<Buffer | undefined> {
  const chunks = first;
  let size = chunks.reduce((n, c) => n + c.length, 0);
  let over = size > limit;
  for await (const chunk of entry) {
    if (over) continue; // keep draining so the tar stream moves on
    size += chunk.length;
    if (size > limit) over = true;
    else chunks.push(chunk);
  }
  return over ? undefined : Buffer.concat(chunks);
}

export async function readLayer(blob: Readable, opts: LayerReadOptions): Promise<LayerReadResult> {
  const { limits, policy, digest, index } = opts;
  const { transforms, stats } = await layerDecoder(blob, limits, digest, opts.imageBytes);
  const changes: LayerChanges = { index, digest, whiteouts: [], opaqueDirs: [], entries: [] };
  const refused: LayerReadResult['refused'] = [];
  const extract = tarExtract();
  if (opts.onBytes) transforms[0]!.on('data', () => opts.onBytes!(stats.compressedBytes));
  // tar-stream's extractor is a streamx Writable, which node's pipeline drives like a core stream.
  const feeding = pipeline([blob, ...transforms, extract as unknown as NodeJS.WritableStream]);
  feeding.catch(() => undefined); // surfaced below, after the entry loop stops

  try {
    for await (const entry of extract) {
      const header = entry.header;
      if (--opts.entryBudget.remaining < 0) throw new ChainError('TOO_LARGE', `image has more than ${limits.maxEntries} tar entries`);
      const path = header.name.length <= limits.maxPathLength ? normalizeEntryPath(header.name) : undefined;
      if (path === undefined || path === '/') {
        if (path === undefined)
          refused.push({
            name: header.name.slice(0, 256),
            reason: header.name.length > limits.maxPathLength ? 'path too long' : 'path escapes the image root',
          });
        entry.resume();
        continue;
      }
      const name = baseName(path);
      if (name.startsWith(WHITEOUT)) {
        if (name === OPAQUE) changes.opaqueDirs.push(parentOf(path));
        else changes.whiteouts.push(`${parentOf(path) === '/' ? '' : parentOf(path)}/${name.slice(WHITEOUT.length)}`);
        entry.resume();
        continue;
      }
      const type = nodeType(header);
      const node: FileNode = {
        path,
        type,
        mode: header.mode ?? 0,
        uid: header.uid ?? 0,
        gid: header.gid ?? 0,
        size: type === 'file' ? (header.size ?? 0) : 0,
        layerIndex: index,
        layer: digest,
      };
      if (type === 'symlink' && header.linkname) node.linkname = header.linkname;
      if (type === 'hardlink' && header.linkname) {
        const target = normalizeEntryPath(header.linkname);
        if (target === undefined) refused.push({ name: header.name.slice(0, 256), reason: 'hard link target escapes the image root' });
        else node.linkname = target;
      }
      if (type === 'file' && node.size > 0) await readContent(entry as unknown as Readable & AsyncIterable<Buffer>, node, policy, limits);
      else entry.resume();
      changes.entries.push(node);
    }
    await feeding;
  } catch (err) {
    blob.destroy();
    extract.destroy();
    const cause = await feeding.then(
      () => err,
      (feedErr: unknown) => (ChainError.is(feedErr) ? feedErr : err),
    );
    if (ChainError.is(cause)) throw cause;
    throw new ChainError('BAD_INPUT', `layer ${digest} is not a valid tar stream: ${(cause as Error).message}`, { cause });
  }
  return { changes, stats, refused };
}

async function readContent(entry: Readable & AsyncIterable<Buffer>, node: FileNode, policy: CapturePolicy, limits: LayerLimits): Promise<void> {
  if (policy.keep(node.path, node.size)) {
    // A package database the scan cannot read whole would leave its packages out: fail closed instead.
    if (node.size > limits.maxPackageDbBytes)
      throw new ChainError('TOO_LARGE', `${node.path} is ${node.size} bytes, over the ${limits.maxPackageDbBytes}-byte limit for package databases`);
    const content = await readAll(entry, [], limits.maxPackageDbBytes);
    if (content) node.content = content;
    return;
  }
  const candidates = policy.inspectors.filter((i) => i.candidate(node.path, node.mode, node.size));
  if (candidates.length === 0 || node.size > limits.maxInspectBytes) {
    entry.resume(); // most files: skipped without a JavaScript callback per chunk
    return;
  }
  const iterator = entry[Symbol.asyncIterator]();
  const first = await iterator.next();
  const head = first.done ? Buffer.alloc(0) : (first.value as Buffer);
  const inspectors = candidates.filter((i) => i.accepts(head));
  const rest = { [Symbol.asyncIterator]: () => iterator };
  if (inspectors.length === 0) {
    for await (const _ of rest) void _;
    return;
  }
  const content = await readAll(rest, [head], limits.maxInspectBytes);
  if (!content) return;
  for (const inspector of inspectors) {
    const fact = await inspector.inspect(node.path, content);
    if (fact !== undefined) (node.facts ??= {})[inspector.name] = fact;
  }
}
