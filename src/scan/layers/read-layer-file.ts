/**
 * Reads one layer straight from a file on disk (an OCI layout's blob, a docker-archive's layer member): the bytes
 * come through two reused buffers (file-range.ts), are hashed against the layer's digest, and go to the tar parser
 * (a plain tar) or to the decoder (a compressed one) without a stream per stage. What keeps bytes past a chunk (file
 * contents a cataloger keeps, an inspector's head, a parser's split header or pax record) copies them, since the
 * chunk's buffer is refilled by the read after next.
 */
import { type Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ChainError } from '../../errors';
import { DigestCheck } from '../digest';
import { compressionOf, counter, decoderFor, layerCounters, type LayerStats } from './decompress';
import { type FileRange, readFileRange } from './file-range';
import { layerParse, type LayerReadOptions, type LayerReadResult, parseSink } from './read-layer';

export interface LayerFile extends FileRange {
  /** Names the file in a digest mismatch ("<archive>: layer <digest>"). */
  what: string;
}

interface LayerFileOptions extends LayerReadOptions {
  /** Throws when the scan was stopped (its time or memory limit); called before each chunk. */
  throwIfStopped?: () => void;
  /** Bytes read at a time (tests make it small to cross every boundary). */
  chunkBytes?: number;
}

/** The decoder of a compressed layer, with the stages after it running as streams. */
interface Decoding {
  decoder: Transform;
  done: Promise<void>;
  /** fzstd keeps views of input it has not decoded yet: its chunks are copied, zlib's are not (see write). */
  copyInput: boolean;
}

export async function readLayerFile(file: LayerFile, opts: LayerFileOptions): Promise<LayerReadResult> {
  const { parser, changes, refused, inspections, tarError } = layerParse(opts);
  const stats: LayerStats = { compression: 'none', compressedBytes: 0, uncompressedBytes: 0 };
  const counters = layerCounters(stats, opts.limits, opts.digest, opts.imageBytes ?? { total: 0 });
  const check = new DigestCheck(opts.digest, file.what);
  let decoding: Decoding | undefined;
  let first = true;

  const consume = async (chunk: Buffer): Promise<void> => {
    opts.throwIfStopped?.();
    if (first) {
      first = false;
      stats.compression = compressionOf(chunk);
      const decoder = decoderFor(stats.compression, opts.digest);
      if (decoder) {
        const done = pipeline(decoder, counter(counters.output), parseSink({ parser, tarError }));
        done.catch(() => undefined); // awaited at the end or raced below
        decoding = { decoder, done, copyInput: stats.compression === 'zstd' };
      }
    }
    check.update(chunk);
    const over = counters.input(chunk.length);
    if (over) throw over;
    opts.onBytes?.(stats.compressedBytes);
    if (!decoding) {
      const tooLarge = counters.output(chunk.length);
      if (tooLarge) throw tooLarge;
      try {
        parser.push(chunk);
      } catch (err) {
        throw tarError(err);
      }
      return;
    }
    // zlib reads its input in the thread pool until the write's callback: the buffer is free again only then. A write
    // to a failed pipeline calls back with an error or not at all, so the pipeline's own error is raced in.
    const { decoder, done, copyInput } = decoding;
    const written = new Promise<void>((resolve) => decoder.write(copyInput ? Buffer.from(chunk) : chunk, () => resolve()));
    await Promise.race([written, done.then(() => undefined)]);
  };

  try {
    await readFileRange(file, consume, opts.chunkBytes);
    const mismatch = check.result();
    if (mismatch) throw mismatch;
    if (decoding) {
      decoding.decoder.end();
      await decoding.done;
    } else {
      try {
        parser.end();
      } catch (err) {
        throw tarError(err);
      }
    }
    await Promise.all(inspections);
  } catch (err) {
    decoding?.decoder.destroy();
    if (ChainError.is(err)) throw err;
    throw new ChainError('BAD_INPUT', `layer ${opts.digest} is not a valid tar stream: ${(err as Error).message}`, { cause: err });
  }
  return { changes, stats, refused };
}
