import { createServer } from 'node:http';
import { type AddressInfo } from 'node:net';
import { onCleanup } from './services';

export interface RegistryEvent {
  action: string;
  target: { mediaType: string; digest: string; repository: string; tag?: string };
  request: { useragent: string; method: string };
}

/** An HTTP listener collecting a registry's notifications (distribution's webhook envelope). */
export async function useNotificationListener(): Promise<{ url: string; events: RegistryEvent[] }> {
  const events: RegistryEvent[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      events.push(...(JSON.parse(Buffer.concat(chunks).toString('utf8')) as { events: RegistryEvent[] }).events);
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  onCleanup(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/events`, events };
}

/** How many times each blob was uploaded (pushed or mounted) to the registry. */
export function blobUploads(events: readonly RegistryEvent[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const e of events) {
    if ((e.action === 'push' || e.action === 'mount') && e.target.mediaType === 'application/octet-stream') {
      counts.set(e.target.digest, (counts.get(e.target.digest) ?? 0) + 1);
    }
  }
  return counts;
}
