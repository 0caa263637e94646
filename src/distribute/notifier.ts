import { request } from 'undici';
import { ChainError } from '../errors';
import { type NotificationLog } from './notification-log';
import { SIGNATURE_HEADER, signNotification } from './notification-signature';

export interface Subscriber {
  name: string;
  url: string;
  secret: string;
}

export interface NotificationInput {
  /** Stable across retries of the same notification: `<workflowId>/<event>/<subscriber>`. */
  id: string;
  workflowId: string;
  digest: string;
  event: string;
  payload: Record<string, unknown>;
  attempt: number;
}

/**
 * Sends one signed notification unless the log says it was already delivered (so a retried
 * activity never notifies twice). A non-2xx answer or a network error is recorded and thrown as
 * retryable; a 4xx other than 408/429 is permanent.
 */
export async function notifySubscriber(
  subscriber: Subscriber,
  input: NotificationInput,
  log: NotificationLog,
  now = () => Date.now(),
): Promise<'delivered' | 'already-delivered'> {
  const previous = await log.get(input.id);
  if (previous?.status === 'delivered') return 'already-delivered';
  const body = JSON.stringify({ id: input.id, event: input.event, digest: input.digest, workflowId: input.workflowId, ...input.payload });
  const timestamp = Math.floor(now() / 1000);
  const base = { id: input.id, subscriber: subscriber.name, workflowId: input.workflowId, digest: input.digest, event: input.event, attempts: input.attempt };
  let status: number;
  try {
    const res = await request(subscriber.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'user-agent': 'delivery-chain-notifier',
        'x-dchain-delivery': input.id,
        [SIGNATURE_HEADER]: signNotification(subscriber.secret, body, timestamp),
      },
      body,
      headersTimeout: 10_000,
      bodyTimeout: 10_000,
    });
    status = res.statusCode;
    await res.body.dump();
  } catch (cause) {
    await log.record({ ...base, status: 'failed', error: (cause as Error).message, at: new Date(now()).toISOString() });
    throw new ChainError('TRANSIENT', `notification to ${subscriber.name} failed: ${(cause as Error).message}`, { cause });
  }
  if (status >= 200 && status < 300) {
    await log.record({ ...base, status: 'delivered', httpStatus: status, at: new Date(now()).toISOString() });
    return 'delivered';
  }
  await log.record({ ...base, status: 'failed', httpStatus: status, at: new Date(now()).toISOString() });
  const permanent = status >= 400 && status < 500 && status !== 408 && status !== 429;
  throw new ChainError(permanent ? 'BAD_INPUT' : 'TRANSIENT', `subscriber ${subscriber.name} answered ${status}`, { retryable: !permanent });
}
