/**
 * Debian version comparison, written from deb-version(7):
 *   [epoch:]upstream_version[-debian_revision]
 * The epoch is compared numerically; upstream version and revision with the dpkg algorithm where
 * non-digit runs compare character by character (letters before non-letters, '~' before anything,
 * even the end of the part) and digit runs compare numerically.
 */
import { ChainError } from '../../errors';

export interface DebVersion {
  epoch: number;
  upstream: string;
  revision: string;
}

const UPSTREAM = /^[0-9][A-Za-z0-9.+~:-]*$/;
const REVISION = /^[A-Za-z0-9.+~]*$/;

export function parseDebVersion(version: string): DebVersion {
  const v = version.trim();
  const colon = v.indexOf(':');
  let epoch = 0;
  let rest = v;
  if (colon >= 0) {
    const e = v.slice(0, colon);
    if (!/^\d+$/.test(e)) throw new ChainError('BAD_INPUT', `invalid dpkg version "${version}": epoch must be a number`);
    epoch = Number(e);
    rest = v.slice(colon + 1);
  }
  const hyphen = rest.lastIndexOf('-');
  const upstream = hyphen >= 0 ? rest.slice(0, hyphen) : rest;
  const revision = hyphen >= 0 ? rest.slice(hyphen + 1) : '';
  // Debian tolerates upstream versions not starting with a digit in practice (dpkg warns); accept any alnum start.
  if (upstream === '' || !(UPSTREAM.test(upstream) || /^[A-Za-z][A-Za-z0-9.+~:-]*$/.test(upstream))) {
    throw new ChainError('BAD_INPUT', `invalid dpkg version "${version}": bad upstream version`);
  }
  if (hyphen >= 0 && (revision === '' || !REVISION.test(revision))) {
    throw new ChainError('BAD_INPUT', `invalid dpkg version "${version}": bad debian revision`);
  }
  return { epoch, upstream, revision };
}

const isDigit = (c: number) => c >= 48 && c <= 57;
const isAlpha = (c: number) => (c >= 65 && c <= 90) || (c >= 97 && c <= 122);

/** Sort weight of one character in a non-digit run; NaN (past the end) weighs 0. */
function order(c: number): number {
  if (Number.isNaN(c) || isDigit(c)) return 0;
  if (isAlpha(c)) return c;
  if (c === 126 /* ~ */) return -1;
  return c + 256;
}

/** dpkg's verrevcmp: compares one upstream version or one revision. */
export function compareDebPart(a: string, b: string): number {
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    while ((i < a.length && !isDigit(a.charCodeAt(i))) || (j < b.length && !isDigit(b.charCodeAt(j)))) {
      const ac = order(a.charCodeAt(i));
      const bc = order(b.charCodeAt(j));
      if (ac !== bc) return Math.sign(ac - bc);
      i++;
      j++;
    }
    while (a.charCodeAt(i) === 48) i++;
    while (b.charCodeAt(j) === 48) j++;
    let firstDiff = 0;
    while (isDigit(a.charCodeAt(i)) && isDigit(b.charCodeAt(j))) {
      if (firstDiff === 0) firstDiff = a.charCodeAt(i) - b.charCodeAt(j);
      i++;
      j++;
    }
    if (isDigit(a.charCodeAt(i))) return 1;
    if (isDigit(b.charCodeAt(j))) return -1;
    if (firstDiff !== 0) return Math.sign(firstDiff);
  }
  return 0;
}

export function compareDeb(a: string, b: string): number {
  const va = parseDebVersion(a);
  const vb = parseDebVersion(b);
  if (va.epoch !== vb.epoch) return va.epoch < vb.epoch ? -1 : 1;
  return compareDebPart(va.upstream, vb.upstream) || compareDebPart(va.revision, vb.revision);
}
