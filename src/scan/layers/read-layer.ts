/**
 * Streams one layer blob through decompression and tar parsing — nothing is written to disk —
 * and returns the layer's changes (whiteouts, entries with captured content and facts). The tar
 * parser is fed the decompressed chunks directly and hands over only the content a cataloger or
 * inspector asked for; the rest of the layer is counted past.
 */
import { type Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ChainError } from '../../errors';
import { baseName, normalizeEntryPath, parentOf } from '../fs/path';
import { type FileNode, type LayerChanges, type NodeType } from '../fs/tree';
import { type CapturePolicy, type ContentInspector } from './capture';
import { layerDecoder, type LayerStats } from './decompress';
import { type LayerLimits } from './limits';
import { type TarContentSink, type TarHeader, TarParser } from './tar-parser';

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

/** Bytes an inspector's `accepts` sees before the file is read whole or skipped (magic numbers are a few bytes). */
const HEAD_BYTES = 512;

/** Collects a file's content up to `limit` bytes; `over` once it passed the limit (the rest is dropped). */
class Collector implements TarContentSink {
  readonly chunks: Buffer[] = [];
  size = 0;
  over = false;
  ended = false;
  constructor(
    private readonly limit: number,
    private readonly done: (c: Collector) => void,
  ) {}
  write(chunk: Buffer): void {
    if (this.over) return;
    this.size += chunk.length;
    // The parser's chunks are views of the stream's buffers: copied once here, when kept.
    if (this.size > this.limit) {
      this.over = true;
      this.chunks.length = 0;
    } else this.chunks.push(chunk);
  }
  end(): void {
    this.ended = true;
    this.done(this);
  }
  content(): Buffer {
    return Buffer.concat(this.chunks, this.size);
  }
}

/** Reads the first bytes, lets the candidate inspectors look at them, then reads the rest for those that accept (or skips it). */
class InspectSink implements TarContentSink {
  private head: Buffer[] = [];
  private headSize = 0;
  private collector: Collector | undefined;
  private skipped = false;
  constructor(
    private readonly size: number,
    private readonly limit: number,
    private readonly candidates: ContentInspector[],
    private readonly inspect: (inspectors: ContentInspector[], content: Buffer) => void,
  ) {}
  write(chunk: Buffer): void {
    if (this.skipped) return;
    if (this.collector) {
      this.collector.write(chunk);
      return;
    }
    this.head.push(chunk);
    this.headSize += chunk.length;
    if (this.headSize >= Math.min(HEAD_BYTES, this.size)) this.decide();
  }
  end(): void {
    if (!this.skipped && !this.collector) this.decide();
    this.collector?.end();
  }
  private decide(): void {
    const head = Buffer.concat(this.head, this.headSize);
    this.head = [];
    const inspectors = this.candidates.filter((i) => i.accepts(head));
    if (inspectors.length === 0) {
      this.skipped = true;
      return;
    }
    this.collector = new Collector(this.limit, (c) => {
      if (!c.over) this.inspect(inspectors, c.content());
    });
    this.collector.write(head);
  }
}

export async function readLayer(blob: Readable, opts: LayerReadOptions): Promise<LayerReadResult> {
  const { limits, policy, digest, index } = opts;
  const { transforms, stats } = await layerDecoder(blob, limits, digest, opts.imageBytes);
  const changes: LayerChanges = { index, digest, whiteouts: [], opaqueDirs: [], entries: [] };
  const refused: LayerReadResult['refused'] = [];
  /** Inspections run as each file completes (some are async); awaited before the layer counts as read. */
  const inspections: Promise<void>[] = [];
  if (opts.onBytes) transforms[0]!.on('data', () => opts.onBytes!(stats.compressedBytes));

  const entry = (header: TarHeader): TarContentSink | undefined => {
    if (--opts.entryBudget.remaining < 0) throw new ChainError('TOO_LARGE', `image has more than ${limits.maxEntries} tar entries`);
    const path = header.name.length <= limits.maxPathLength ? normalizeEntryPath(header.name) : undefined;
    if (path === undefined || path === '/') {
      if (path === undefined)
        refused.push({
          name: header.name.slice(0, 256),
          reason: header.name.length > limits.maxPathLength ? 'path too long' : 'path escapes the image root',
        });
      return undefined;
    }
    const name = baseName(path);
    if (name.startsWith(WHITEOUT)) {
      if (name === OPAQUE) changes.opaqueDirs.push(parentOf(path));
      else changes.whiteouts.push(`${parentOf(path) === '/' ? '' : parentOf(path)}/${name.slice(WHITEOUT.length)}`);
      return undefined;
    }
    const type: NodeType = header.type;
    const node: FileNode = {
      path,
      type,
      mode: header.mode,
      uid: header.uid,
      gid: header.gid,
      size: type === 'file' ? header.size : 0,
      layerIndex: index,
      layer: digest,
    };
    if (type === 'symlink' && header.linkname) node.linkname = header.linkname;
    if (type === 'hardlink' && header.linkname) {
      const target = normalizeEntryPath(header.linkname);
      if (target === undefined) refused.push({ name: header.name.slice(0, 256), reason: 'hard link target escapes the image root' });
      else node.linkname = target;
    }
    changes.entries.push(node);
    return type === 'file' && node.size > 0 ? contentSink(node) : undefined;
  };

  const contentSink = (node: FileNode): TarContentSink | undefined => {
    if (policy.keep(node.path, node.size)) {
      // A package database the scan cannot read whole would leave its packages out: fail closed instead.
      if (node.size > limits.maxPackageDbBytes)
        throw new ChainError('TOO_LARGE', `${node.path} is ${node.size} bytes, over the ${limits.maxPackageDbBytes}-byte limit for package databases`);
      return new Collector(limits.maxPackageDbBytes, (c) => {
        if (!c.over) node.content = c.content();
      });
    }
    if (node.size > limits.maxInspectBytes) return undefined;
    const candidates = policy.inspectors.filter((i) => i.candidate(node.path, node.mode, node.size));
    if (candidates.length === 0) return undefined; // most files: counted past, never copied
    return new InspectSink(node.size, limits.maxInspectBytes, candidates, (inspectors, content) => {
      const inspection = (async () => {
        for (const inspector of inspectors) {
          const fact = await inspector.inspect(node.path, content);
          if (fact !== undefined) (node.facts ??= {})[inspector.name] = fact;
        }
      })();
      inspection.catch(() => undefined); // awaited below; a tar error may come first and end the read
      inspections.push(inspection);
    });
  };

  const parser = new TarParser(entry);
  const tarError = (err: unknown) =>
    ChainError.is(err) && err.code !== 'BAD_INPUT'
      ? err
      : new ChainError('BAD_INPUT', `layer ${digest} is not a valid tar stream: ${(err as Error).message.replace(/^not a valid tar stream: /, '')}`, {
          cause: err,
        });
  // Parsing in the write callback (no per-entry streams), but on the next turn of the event loop: the stage above
  // (inflate, the file read) starts on its next chunk in libuv's thread pool only once our write returns, so parsing
  // inside the write would leave the pool idle while the main thread parses, and the other way round. Deferred, the two
  // overlap; the buffered chunks are bounded by the highWaterMark, which still carries back-pressure to the source.
  const sink = new Writable({
    highWaterMark: 512 * 1024,
    write(chunk: Buffer, _enc, done) {
      setImmediate(() => {
        try {
          parser.push(chunk);
          done();
        } catch (err) {
          done(tarError(err));
        }
      });
    },
    final(done) {
      try {
        parser.end();
        done();
      } catch (err) {
        done(tarError(err));
      }
    },
  });
  try {
    await pipeline([blob, ...transforms, sink]);
    await Promise.all(inspections);
  } catch (err) {
    blob.destroy();
    if (ChainError.is(err)) throw err;
    throw new ChainError('BAD_INPUT', `layer ${digest} is not a valid tar stream: ${(err as Error).message}`, { cause: err });
  }
  return { changes, stats, refused };
}
