/**
 * Alpine apk version comparison, following apk-tools' version.c token machine:
 *   digits{.digits}[letter]{_suffix[digits]}[-r<digits>]
 * Pre-release suffixes (_alpha < _beta < _pre < _rc) sort before the bare version, post-release
 * ones (_cvs < _svn < _git < _hg < _p) after it; a leading zero makes a component fractional.
 */
import { ChainError } from '../../errors';

const enum Tok {
  Invalid = -1,
  DigitOrZero = 0,
  Digit = 1,
  Letter = 2,
  Suffix = 3,
  SuffixNo = 4,
  RevisionNo = 5,
  End = 6,
}

const PRE_SUFFIXES = ['alpha', 'beta', 'pre', 'rc'];
const POST_SUFFIXES = ['cvs', 'svn', 'git', 'hg', 'p'];

const isDigit = (c: string | undefined) => c !== undefined && c >= '0' && c <= '9';
const isLower = (c: string | undefined) => c !== undefined && c >= 'a' && c <= 'z';

class Cursor {
  pos = 0;
  type: Tok = Tok.Digit;
  constructor(readonly s: string) {}
  clone(): Cursor {
    const c = new Cursor(this.s);
    c.pos = this.pos;
    c.type = this.type;
    return c;
  }
  get rest(): number {
    return this.s.length - this.pos;
  }

  private next(): void {
    let n: Tok = Tok.Invalid;
    const c = this.s[this.pos];
    if (this.rest <= 0) n = Tok.End;
    else if ((this.type === Tok.Digit || this.type === Tok.DigitOrZero) && isLower(c)) n = Tok.Letter;
    else if (this.type === Tok.Letter && isDigit(c)) n = Tok.Digit;
    else if (this.type === Tok.Suffix && isDigit(c)) n = Tok.SuffixNo;
    else {
      if (c === '.') n = Tok.DigitOrZero;
      else if (c === '_') n = Tok.Suffix;
      else if (c === '-' && this.s[this.pos + 1] === 'r') {
        n = Tok.RevisionNo;
        this.pos++;
      }
      this.pos++;
    }
    if (n < this.type) {
      const allowed =
        (n === Tok.DigitOrZero && this.type === Tok.Digit) || (n === Tok.Suffix && this.type === Tok.SuffixNo) || (n === Tok.Digit && this.type === Tok.Letter);
      if (!allowed) n = Tok.Invalid;
    }
    this.type = n;
  }

  /** Reads the token of the current type, returns its value and moves to the next type. */
  take(): number {
    if (this.rest <= 0) {
      this.type = Tok.End;
      return 0;
    }
    let v = 0;
    let i = this.pos;
    let nextType: Tok = Tok.Invalid;
    if (this.type === Tok.DigitOrZero && this.s[i] === '0') {
      // A component with leading zeros is a fraction: its zeros count negatively, the rest follows as digits.
      while (this.s[i] === '0') i++;
      nextType = Tok.Digit;
      v = -(i - this.pos);
    } else if (this.type === Tok.DigitOrZero || this.type === Tok.Digit || this.type === Tok.SuffixNo || this.type === Tok.RevisionNo) {
      while (isDigit(this.s[i])) v = v * 10 + Number(this.s[i++]);
    } else if (this.type === Tok.Letter) {
      v = this.s.charCodeAt(i++);
    } else if (this.type === Tok.Suffix) {
      const tail = this.s.slice(i);
      const pre = PRE_SUFFIXES.findIndex((s) => tail.startsWith(s));
      const post = pre < 0 ? POST_SUFFIXES.findIndex((s) => tail.startsWith(s)) : -1;
      if (pre >= 0) {
        v = pre - PRE_SUFFIXES.length;
        i += PRE_SUFFIXES[pre]!.length;
      } else if (post >= 0) {
        v = post + 1;
        i += POST_SUFFIXES[post]!.length;
      } else {
        this.type = Tok.Invalid;
        return -1;
      }
    } else {
      this.type = Tok.Invalid;
      return -1;
    }
    this.pos = i;
    if (this.rest <= 0) this.type = Tok.End;
    else if (nextType !== Tok.Invalid) this.type = nextType;
    else this.next();
    return v;
  }
}

export function isValidApk(version: string): boolean {
  const c = new Cursor(version);
  while (c.type !== Tok.End && c.type !== Tok.Invalid) c.take();
  return c.type === Tok.End && version.length > 0 && isDigit(version[0]);
}

export function compareApk(a: string, b: string): number {
  for (const v of [a, b]) if (!isValidApk(v)) throw new ChainError('BAD_INPUT', `invalid apk version "${v}"`);
  const ca = new Cursor(a);
  const cb = new Cursor(b);
  let av = 0;
  let bv = 0;
  while (ca.type === cb.type && ca.type !== Tok.End && ca.type !== Tok.Invalid && av === bv) {
    av = ca.take();
    bv = cb.take();
  }
  if (av !== bv) return av < bv ? -1 : 1;
  if (ca.type === cb.type) return 0;
  // Same leading components: the longer version is newer unless it continues with a pre-release suffix.
  if (ca.type === Tok.Suffix && ca.clone().take() < 0) return -1;
  if (cb.type === Tok.Suffix && cb.clone().take() < 0) return 1;
  if (ca.type > cb.type) return -1;
  if (cb.type > ca.type) return 1;
  return 0;
}
