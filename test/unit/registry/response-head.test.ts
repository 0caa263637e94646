import assert from 'node:assert/strict';
import { it } from 'node:test';
import { ChainError } from '../../../src/errors';
import { declaredLength, fieldValue, MAX_HEAD_BYTES, parseResponseHead } from '../../../src/registry/response-head';

const head = (text: string) => parseResponseHead(Buffer.from(text, 'latin1'));
const refused = (text: string) =>
  assert.throws(
    () => head(text),
    (err) => ChainError.is(err, 'REGISTRY_ERROR'),
    JSON.stringify(text),
  );

void it('reads the status, the fields by lower-case name and where the body starts (RFC 9112 §4, §5)', () => {
  const text = 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A:  one \r\nx-a: two\r\nEmpty:\r\n\r\nhello';
  const parsed = head(text);
  assert.ok(parsed);
  assert.equal(parsed.status, 200);
  assert.equal(parsed.length, text.length - 5);
  assert.deepEqual(parsed.fields.get('x-a'), ['one', 'two']);
  assert.equal(fieldValue(parsed, 'x-a'), 'one, two');
  assert.equal(fieldValue(parsed, 'empty'), '');
  assert.equal(fieldValue(parsed, 'missing'), undefined);
  assert.equal(declaredLength(parsed), 5);
});

void it('accepts HTTP/1.0, an empty reason phrase with or without its space, and obs-text in the reason', () => {
  assert.equal(head('HTTP/1.0 404 Not Found\r\n\r\n')?.status, 404);
  assert.equal(head('HTTP/1.1 201 \r\n\r\n')?.status, 201);
  assert.equal(head('HTTP/1.1 201\r\n\r\n')?.status, 201);
  assert.equal(head('HTTP/1.1 200 Gr\xfc\xdfe\r\n\r\n')?.status, 200);
});

void it('waits for the empty line that ends the head, however the bytes were split', () => {
  const text = 'HTTP/1.1 307 Temporary Redirect\r\nLocation: /x\r\n\r\n';
  for (let cut = 0; cut < text.length; cut++) assert.equal(head(text.slice(0, cut)), undefined, `cut at ${cut}`);
  assert.equal(head(text)?.status, 307);
});

void it('refuses what RFC 9112 does not allow: other versions, bad status codes, obs-fold, space before the colon, bare CR/LF, non-token names', () => {
  refused('HTTP/2 200 OK\r\n\r\n');
  refused('HTTP/1.1 20 OK\r\n\r\n');
  refused('HTTP/1.1 600 Nope\r\n\r\n');
  refused('http/1.1 200 OK\r\n\r\n');
  refused(' HTTP/1.1 200 OK\r\n\r\n');
  refused('HTTP/1.1 200 OK\r\nX-A: one\r\n two\r\n\r\n');
  refused('HTTP/1.1 200 OK\r\nX-A: one\r\n\ttwo\r\n\r\n');
  refused('HTTP/1.1 200 OK\r\nContent-Length : 5\r\n\r\n');
  refused('HTTP/1.1 200 OK\r\nX-A: one\ntwo\r\n\r\n');
  refused('HTTP/1.1 200 OK\r\nX-A: one\rtwo\r\n\r\n');
  refused('HTTP/1.1 200 OK\r\nX A: one\r\n\r\n');
  refused('HTTP/1.1 200 OK\r\n: one\r\n\r\n');
  refused('HTTP/1.1 200 OK\r\nX-A: \x00\r\n\r\n');
  refused('HTTP/1.1 200 OK\r\nno colon\r\n\r\n');
});

void it(`refuses a head larger than ${MAX_HEAD_BYTES} bytes, complete or not`, () => {
  const big = `HTTP/1.1 200 OK\r\nX-Big: ${'a'.repeat(MAX_HEAD_BYTES)}`;
  refused(big);
  refused(`${big}\r\n\r\n`);
});

void it('frames by Content-Length only without Transfer-Encoding; refuses invalid or conflicting lengths (RFC 9112 §6.3)', () => {
  const length = (fields: string) => {
    const parsed = head(`HTTP/1.1 200 OK\r\n${fields}\r\n`);
    assert.ok(parsed);
    return declaredLength(parsed);
  };
  assert.equal(length('Content-Length: 0\r\n'), 0);
  assert.equal(length('Content-Length: 42\r\nContent-Length: 42\r\n'), 42);
  assert.equal(length('Content-Length: 42, 42\r\n'), 42);
  assert.equal(length('Transfer-Encoding: chunked\r\n'), undefined);
  assert.equal(length('Transfer-Encoding: chunked\r\nContent-Length: 42\r\n'), undefined);
  assert.equal(length(''), undefined);
  for (const bad of [
    'Content-Length: 42, 43\r\n',
    'Content-Length: 1\r\nContent-Length: 2\r\n',
    'Content-Length: -1\r\n',
    'Content-Length: 0x10\r\n',
    'Content-Length: \r\n',
    'Content-Length: 1e3\r\n',
  ]) {
    const parsed = head(`HTTP/1.1 200 OK\r\n${bad}\r\n`);
    assert.ok(parsed);
    assert.throws(
      () => declaredLength(parsed),
      (err) => ChainError.is(err, 'REGISTRY_ERROR'),
      bad,
    );
  }
});
