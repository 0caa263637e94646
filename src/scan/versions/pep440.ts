/** PEP 440 comparison (pre/post/dev releases, epochs, local versions) via @renovatebot/pep440. */
import { compare, valid } from '@renovatebot/pep440';
import { ChainError } from '../../errors';

export function comparePep440(a: string, b: string): number {
  for (const v of [a, b]) if (valid(v) === null) throw new ChainError('BAD_INPUT', `invalid PEP 440 version "${v}"`);
  return Math.sign(compare(a, b));
}
