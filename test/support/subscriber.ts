import { createServer, type IncomingMessage } from 'node:http';
import { type AddressInfo } from 'node:net';
import { onCleanup } from './services';

export interface ReceivedNotification {
  headers: IncomingMessage['headers'];
  body: string;
}

export interface TestSubscriber {
  /** Where to send notifications (a subscriber's `url`). */
  url: string;
  /** The notifications it accepted, in order of arrival. */
  received: ReceivedNotification[];
  /** What it answers: 204 by default; a 4xx or 5xx refuses (the notification is not kept in `received`). */
  status: number;
}

/** A notification subscriber on a free loopback port, closed when the test file is done. */
export async function useSubscriber(): Promise<TestSubscriber> {
  const subscriber: TestSubscriber = { url: '', received: [], status: 204 };
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const status = subscriber.status;
      if (status >= 200 && status < 300) subscriber.received.push({ headers: req.headers, body });
      res.writeHead(status).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  onCleanup(() => new Promise<void>((resolve) => server.close(() => resolve())));
  subscriber.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  return subscriber;
}
