/**
 * Reads a byte range of a file (a layer of an OCI layout, or a layer member of an image archive) through a
 * callback, with two buffers used in turn for the whole range: the next read runs in libuv's thread pool while the
 * callback works on the current chunk, and no buffer is allocated per chunk. A read stream allocates a fresh one
 * per chunk, whose pages are faulted in anew and collected later: on a 200 MB layer that cost about as much as
 * hashing it.
 *
 * The chunk passed to `consume` is valid only until the promise it returns settles (at once when it returns
 * nothing): its buffer is then filled with later bytes. Whatever keeps bytes past that must copy them.
 */
import { open } from 'node:fs/promises';
import { ChainError } from '../../errors';

/** Where a blob is on disk: a whole file, or a stretch of one (a member of an uncompressed tar). */
export interface FileRange {
  file: string;
  offset: number;
  size: number;
}

const CHUNK_BYTES = 1024 * 1024;

export async function readFileRange(range: FileRange, consume: (chunk: Buffer) => void | Promise<void>, chunkBytes: number = CHUNK_BYTES): Promise<void> {
  const handle = await open(range.file, 'r');
  try {
    const buffers = [Buffer.allocUnsafe(Math.min(chunkBytes, range.size)), Buffer.allocUnsafe(Math.min(chunkBytes, range.size))];
    const end = range.offset + range.size;
    const readAt = async (buffer: Buffer, position: number): Promise<Buffer> => {
      const length = Math.min(buffer.length, end - position);
      let got = 0;
      while (got < length) {
        const { bytesRead } = await handle.read(buffer, got, length - got, position + got);
        if (bytesRead === 0) throw new ChainError('BAD_INPUT', `${range.file} ends before byte ${end} (truncated while read)`);
        got += bytesRead;
      }
      return buffer.subarray(0, length);
    };
    let position = range.offset;
    let turn = 0;
    let next = position < end ? readAt(buffers[0]!, position) : undefined;
    while (next) {
      const chunk = await next;
      position += chunk.length;
      turn ^= 1;
      // The other buffer is free: the callback that had it has settled.
      next = position < end ? readAt(buffers[turn]!, position) : undefined;
      // A failing read is reported by its own await; until then, keep it from counting as unhandled.
      next?.catch(() => undefined);
      try {
        await consume(chunk);
      } catch (err) {
        await next?.catch(() => undefined); // the file stays open until the read in flight is done with it
        throw err;
      }
    }
  } finally {
    await handle.close();
  }
}
