import { createServer, request, type IncomingMessage } from 'node:http';
import { type AddressInfo, type Socket } from 'node:net';
import { onCleanup } from './services';

/** A request the proxy holds back until `release()`: it has arrived whole, nothing went upstream yet. */
export interface HeldRequest {
  /** Resolves when a matching request has arrived (and is being held). */
  arrived: Promise<void>;
  /** Sends the held request upstream (its client may have died meanwhile: the write lands all the same). */
  release(): void;
}

export interface FaultProxy {
  /** The URL to give clients instead of the upstream's. */
  url: string;
  /** Every request is answered with this status (a registry answering 503s) until `fail(undefined)`. */
  fail(status: number | undefined): void;
  /** Holds the first request whose method and path match, e.g. to kill its client while it is in flight. */
  holdNext(method: RegExp, path: RegExp): HeldRequest;
}

/**
 * An HTTP relay to 127.0.0.1:`upstreamPort` that injects registry faults: 5xx answers for a while, or
 * one request held back until the test releases it. The Host header is passed through, so the URLs a
 * registry answers with (upload locations) point back at the proxy.
 */
export async function useFaultProxy(upstreamPort: number): Promise<FaultProxy> {
  let failing: number | undefined;
  const holds: Array<{ method: RegExp; path: RegExp; arrive: () => void; released: Promise<void> }> = [];
  const sockets = new Set<Socket>();
  const forward = (req: IncomingMessage, body: Buffer, reply: (res: IncomingMessage) => void, fail: () => void) => {
    const headers = { ...req.headers };
    delete headers['transfer-encoding'];
    headers['content-length'] = String(body.length);
    const up = request({ host: '127.0.0.1', port: upstreamPort, method: req.method, path: req.url, headers }, reply);
    up.on('error', fail);
    up.end(body);
  };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('error', () => undefined);
    // Bodies are buffered whole (registry manifests and the test images' blobs are small), so a held
    // request can still be sent after its client has gone.
    req.on('end', () => {
      if (failing !== undefined) {
        res.writeHead(failing, { 'content-type': 'application/json' }).end(JSON.stringify({ errors: [{ code: 'UNAVAILABLE', message: 'injected fault' }] }));
        return;
      }
      const i = holds.findIndex((h) => h.method.test(req.method ?? '') && h.path.test(req.url ?? ''));
      const held = i >= 0 ? holds.splice(i, 1)[0] : undefined;
      held?.arrive();
      void (held?.released ?? Promise.resolve()).then(() =>
        forward(
          req,
          Buffer.concat(chunks),
          (upRes) => {
            res.on('error', () => undefined);
            res.writeHead(upRes.statusCode ?? 502, upRes.headers);
            upRes.pipe(res);
          },
          () => res.destroy(),
        ),
      );
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  onCleanup(
    () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  );
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    fail(status) {
      failing = status;
    },
    holdNext(method, path) {
      let arrive!: () => void;
      let release!: () => void;
      const arrived = new Promise<void>((r) => (arrive = r));
      const released = new Promise<void>((r) => (release = r));
      holds.push({ method, path, arrive, released });
      return { arrived, release };
    },
  };
}
