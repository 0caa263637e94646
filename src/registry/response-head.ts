import { ChainError } from '../errors';

/**
 * The head of an HTTP/1.1 response (RFC 9112 §4 status line, §5 field lines), read from the bytes
 * a socket delivered, for the blob transfers that bypass the HTTP client (see blob-pipe.ts). Strict
 * on purpose: whatever is not plainly well-formed is refused, and the transfer then goes through the
 * HTTP client instead.
 */
export interface ResponseHead {
  status: number;
  /** Field values by lower-case name, in the order received. */
  fields: Map<string, string[]>;
  /** Bytes the head took, its final empty line included: the body starts there. */
  length: number;
}

/** A head larger than this is refused (undici's default limit on header bytes is 16 KiB). */
export const MAX_HEAD_BYTES = 64 * 1024;

const CRLF_CRLF = Buffer.from('\r\n\r\n');
// status-line = HTTP-version SP status-code SP [ reason-phrase ]; reason-phrase = 1*( HTAB / SP / VCHAR / obs-text ).
// The space before an empty reason is often left out by servers; it is accepted without it.
const STATUS_LINE = /^HTTP\/1\.[01] ([1-5]\d\d)(?: [\t\x20-\x7e\x80-\xff]*)?$/;
// field-name = token (RFC 9110 §5.1); no whitespace between it and the colon (RFC 9112 §5.1).
const FIELD_LINE = /^([!#$%&'*+\-.^_`|~0-9A-Za-z]+):[\t ]*(.*?)[\t ]*$/;
// field-value = *field-content: VCHAR, obs-text, SP and HTAB (RFC 9110 §5.5), so no CR, LF or NUL.
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

const malformed = (message: string) => new ChainError('REGISTRY_ERROR', `malformed HTTP response: ${message}`);

/**
 * The head at the start of `bytes`, or undefined while its end (an empty line) has not arrived.
 * Throws REGISTRY_ERROR on anything RFC 9112 does not allow, including obsolete line folding,
 * which a client may refuse (§5.2), and bare LF line endings (§2.2 lets a recipient refuse them).
 */
export function parseResponseHead(bytes: Buffer): ResponseHead | undefined {
  const end = bytes.indexOf(CRLF_CRLF);
  if (end < 0) {
    if (bytes.length > MAX_HEAD_BYTES) throw malformed(`response head larger than ${MAX_HEAD_BYTES} bytes`);
    return undefined;
  }
  if (end + 4 > MAX_HEAD_BYTES) throw malformed(`response head larger than ${MAX_HEAD_BYTES} bytes`);
  const lines = bytes.toString('latin1', 0, end).split('\r\n');
  const statusLine = lines[0] ?? '';
  const status = STATUS_LINE.exec(statusLine);
  if (!status) throw malformed(`not an HTTP/1.1 status line: ${JSON.stringify(statusLine.slice(0, 80))}`);
  const fields = new Map<string, string[]>();
  for (const line of lines.slice(1)) {
    if (line.startsWith(' ') || line.startsWith('\t')) throw malformed('obsolete line folding in a response field');
    const field = FIELD_LINE.exec(line);
    if (!field || !FIELD_VALUE.test(field[2] as string)) throw malformed(`malformed response field line: ${JSON.stringify(line.slice(0, 80))}`);
    const name = (field[1] as string).toLowerCase();
    fields.set(name, [...(fields.get(name) ?? []), field[2] as string]);
  }
  return { status: Number(status[1]), fields, length: end + 4 };
}

/** One field's value, its lines joined with commas as RFC 9110 §5.3 combines them; undefined when absent. */
export function fieldValue(head: ResponseHead, name: string): string | undefined {
  return head.fields.get(name)?.join(', ');
}

/**
 * The body length a response declares with Content-Length (RFC 9112 §6.3), or undefined when its
 * body is framed otherwise (Transfer-Encoding, or read to the connection's close). A Content-Length
 * that is not a decimal number, or lists different numbers, is refused (§6.3 item 5).
 */
export function declaredLength(head: ResponseHead): number | undefined {
  if (head.fields.has('transfer-encoding')) return undefined;
  const values = head.fields.get('content-length');
  if (!values) return undefined;
  const numbers = new Set(values.flatMap((v) => v.split(',')).map((v) => v.trim()));
  const [only] = numbers;
  if (numbers.size !== 1 || only === undefined || !/^\d{1,15}$/.test(only)) throw malformed(`invalid Content-Length: ${values.join(', ')}`);
  return Number(only);
}
