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

/**
 * Collects a file's content (`expected` bytes, as its header says) up to `limit` bytes; `over` once it passed the
 * limit (the rest is dropped). The parser's chunks are views of the reader's buffers, which the next read refills:
 * the bytes kept are copied here, once, into a buffer of the file's size.
 */
class Collector implements TarContentSink {
  private readonly bytes: Buffer;
  size = 0;
  over = false;
  constructor(
    expected: number,
    limit: number,
    private readonly done: (c: Collector) => void,
  ) {
    this.bytes = Buffer.allocUnsafe(Math.min(expected, limit));
  }
  write(chunk: Buffer): void {
    if (this.over) return;
    if (this.size + chunk.length > this.bytes.length) {
      this.over = true;
      return;
    }
    chunk.copy(this.bytes, this.size);
    this.size += chunk.length;
  }
  end(): void {
    this.done(this);
  }
  content(): Buffer {
    return this.bytes.subarray(0, this.size);
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
    /** Runs `inPlace` inspectors at once on a view that is valid for the call only. */
    private readonly inspectInPlace: (inspectors: ContentInspector[], view: Buffer) => void,
  ) {}
  write(chunk: Buffer): void {
    if (this.skipped) return;
    if (this.collector) {
      this.collector.write(chunk);
      return;
    }
    this.headSize += chunk.length;
    if (this.headSize >= Math.min(HEAD_BYTES, this.size)) {
      this.head.push(chunk);
      this.decide();
    } else this.head.push(Buffer.from(chunk)); // kept past this call, when the chunk's buffer is refilled: copied
  }
  end(): void {
    if (!this.skipped && !this.collector) this.decide();
    this.collector?.end();
  }
  private decide(): void {
    const head = this.head.length === 1 ? this.head[0]! : Buffer.concat(this.head, this.headSize);
    const whole = this.head.length === 1 && this.headSize === this.size;
    this.head = [];
    const inspectors = this.candidates.filter((i) => i.accepts(head));
    if (inspectors.length === 0) {
      this.skipped = true;
      return;
    }
    // The whole file in one chunk, for inspectors that keep nothing of it: inspected in the chunk, not copied. Most
    // files inspected are: small files (the private-key check) and executables (Go's build info) of a few dozen MB a layer.
    if (whole && inspectors.every((i) => i.inPlace)) {
      this.skipped = true;
      this.inspectInPlace(inspectors, head);
      return;
    }
    this.collector = new Collector(this.size, this.limit, (c) => {
      if (!c.over) this.inspect(inspectors, c.content());
    });
    this.collector.write(head);
  }
}

/** What turns a layer's tar bytes into its changes: the parser to push them to, and what it fills. */
interface LayerParse {
  parser: TarParser;
  changes: LayerChanges;
  refused: LayerReadResult['refused'];
  /** Inspections run as each file completes (some are async); awaited before the layer counts as read. */
  inspections: Promise<void>[];
  /** A parser error as the layer's BAD_INPUT (limits' errors pass unchanged). */
  tarError: (err: unknown) => ChainError;
}

export function layerParse(opts: LayerReadOptions): LayerParse {
  const { limits, policy, digest, index } = opts;
  const changes: LayerChanges = { index, digest, whiteouts: [], opaqueDirs: [], entries: [] };
  const refused: LayerReadResult['refused'] = [];
  const inspections: Promise<void>[] = [];

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
      return new Collector(node.size, limits.maxPackageDbBytes, (c) => {
        if (!c.over) node.content = c.content();
      });
    }
    if (node.size > limits.maxInspectBytes) return undefined;
    const candidates = policy.inspectors.filter((i) => i.candidate(node.path, node.mode, node.size));
    if (candidates.length === 0) return undefined; // most files: counted past, never copied
    // The callbacks are written inline: the CLI bundle names each named closure when it is made (esbuild's keepNames),
    // a defineProperty per inspected file.
    return new InspectSink(
      node.size,
      limits.maxInspectBytes,
      candidates,
      (inspectors, content) => {
        const inspection = (async () => {
          for (const inspector of inspectors) {
            const fact = await inspector.inspect(node.path, content);
            if (fact !== undefined) (node.facts ??= {})[inspector.name] = fact;
          }
        })();
        inspection.catch(() => undefined); // awaited below; a tar error may come first and end the read
        inspections.push(inspection);
      },
      (inspectors, view) => {
        try {
          for (const inspector of inspectors) {
            const fact = inspector.inspect(node.path, view);
            if (fact instanceof Promise) throw new ChainError('INTERNAL', `inspector ${inspector.name} is declared inPlace but is asynchronous`);
            if (fact !== undefined) (node.facts ??= {})[inspector.name] = fact;
          }
        } catch (err) {
          // Reported where an asynchronous inspection's failure is: when the layer's inspections are awaited.
          const failed = Promise.reject(err as Error);
          failed.catch(() => undefined);
          inspections.push(failed);
        }
      },
    );
  };

  const parser = new TarParser(entry);
  const tarError = (err: unknown) =>
    ChainError.is(err) && err.code !== 'BAD_INPUT'
      ? err
      : new ChainError('BAD_INPUT', `layer ${digest} is not a valid tar stream: ${(err as Error).message.replace(/^not a valid tar stream: /, '')}`, {
          cause: err,
        });
  return { parser, changes, refused, inspections, tarError };
}

/** A writable that pushes tar bytes to the parser. */
export function parseSink({ parser, tarError }: Pick<LayerParse, 'parser' | 'tarError'>): Writable {
  // Parsing in the write callback (no per-entry streams), but on the next turn of the event loop: the stage above
  // (inflate, the file read) starts on its next chunk in libuv's thread pool only once our write returns, so parsing
  // inside the write would leave the pool idle while the main thread parses, and the other way round. Deferred, the two
  // overlap; the buffered chunks are bounded by the highWaterMark, which still carries back-pressure to the source.
  return new Writable({
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
}

export async function readLayer(blob: Readable, opts: LayerReadOptions): Promise<LayerReadResult> {
  const { transforms, stats } = await layerDecoder(blob, opts.limits, opts.digest, opts.imageBytes);
  if (opts.onBytes) transforms[0]!.on('data', () => opts.onBytes!(stats.compressedBytes));
  const { parser, changes, refused, inspections, tarError } = layerParse(opts);
  const sink = parseSink({ parser, tarError });
  try {
    await pipeline([blob, ...transforms, sink]);
    await Promise.all(inspections);
  } catch (err) {
    blob.destroy();
    if (ChainError.is(err)) throw err;
    throw new ChainError('BAD_INPUT', `layer ${opts.digest} is not a valid tar stream: ${(err as Error).message}`, { cause: err });
  }
  return { changes, stats, refused };
}
