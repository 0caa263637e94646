import { type Dispatcher } from 'undici';
import { ChainError } from '../errors';
import { header } from './transport';

/** Reads a whole response body, refusing with TOO_LARGE past `limit` bytes (declared or actual). */
export async function readBody(
  res: { headers: Record<string, string | string[] | undefined>; body: Dispatcher.ResponseData['body'] },
  limit: number,
  what: string,
): Promise<Buffer> {
  const declared = Number(header(res.headers, 'content-length'));
  if (Number.isFinite(declared) && declared > limit) {
    await res.body.dump();
    throw new ChainError('TOO_LARGE', `${what} is ${declared} bytes, more than the limit of ${limit}`, { details: { size: declared, limit } });
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of res.body) {
    const buf = chunk as Buffer;
    size += buf.length;
    if (size > limit) {
      res.body.destroy();
      throw new ChainError('TOO_LARGE', `${what} is larger than the limit of ${limit} bytes`, { details: { limit } });
    }
    chunks.push(buf);
  }
  return Buffer.concat(chunks, size);
}
