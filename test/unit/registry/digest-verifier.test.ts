import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { it } from 'node:test';
import { ChainError } from '../../../src/errors';
import { DigestVerifier, digestOf } from '../../../src/registry';

/** Pipes `chunks` through a verifier expecting `digest`; returns what came out and how it ended. */
async function through(chunks: Buffer[], digest: string): Promise<{ out: Buffer; error: unknown }> {
  const received: Buffer[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      received.push(chunk);
      done();
    },
  });
  let error: unknown;
  await pipeline(Readable.from(chunks), new DigestVerifier(digest, 'blob'), sink).catch((err: unknown) => (error = err));
  return { out: Buffer.concat(received), error };
}

void it('passes a matching blob through whole', async () => {
  const chunks = [randomBytes(1000), randomBytes(2000), randomBytes(10)];
  const { out, error } = await through(chunks, digestOf(Buffer.concat(chunks)));
  assert.equal(error, undefined);
  assert.deepEqual(out, Buffer.concat(chunks));
});

void it('holds the last chunk back from a mismatching blob, so no consumer ever gets all of it', async () => {
  const chunks = [randomBytes(1000), randomBytes(2000), randomBytes(10)];
  const { out, error } = await through(chunks, digestOf(Buffer.from('something else')));
  assert.ok(ChainError.is(error, 'DIGEST_MISMATCH'));
  assert.equal(out.length, 3000);
});
