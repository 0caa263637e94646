import assert from 'node:assert/strict';
import { it } from 'node:test';
import { nextLink } from '../../../src/registry';
import { backoffMs, isConnectionError, isRetryableStatus } from '../../../src/registry/retry';

const policy = { retries: 4, baseDelayMs: 100, maxDelayMs: 1000 };

void it('backs off exponentially with full jitter, capped', () => {
  assert.equal(
    backoffMs(0, policy, undefined, () => 0.999),
    99,
  );
  assert.equal(
    backoffMs(3, policy, undefined, () => 0.5),
    400,
  );
  assert.equal(
    backoffMs(10, policy, undefined, () => 0.999),
    999,
  );
  assert.equal(
    backoffMs(2, policy, undefined, () => 0),
    0,
  );
});

void it('honours Retry-After seconds as a floor, within the cap', () => {
  assert.equal(
    backoffMs(0, policy, '0', () => 0),
    0,
  );
  assert.equal(
    backoffMs(0, { ...policy, maxDelayMs: 5000 }, '2', () => 0),
    2000,
  );
  assert.equal(
    backoffMs(0, policy, '120', () => 0),
    1000,
  );
});

void it('retries 429, 408 and 5xx, and connection errors found in the cause chain', () => {
  assert.deepEqual([429, 408, 500, 503, 400, 401, 404].map(isRetryableStatus), [true, true, true, true, false, false, false]);
  assert.equal(isConnectionError(Object.assign(new Error('x'), { cause: Object.assign(new Error('y'), { code: 'ECONNRESET' }) })), true);
  assert.equal(isConnectionError(new Error('plain')), false);
});

void it('follows rel="next" in Link headers', () => {
  assert.equal(nextLink('</v2/_catalog?last=b&n=2>; rel="next"'), '/v2/_catalog?last=b&n=2');
  assert.equal(nextLink('<https://r/a>; rel="prev", <https://r/b>; rel=next'), 'https://r/b');
  assert.equal(nextLink(undefined), undefined);
});
