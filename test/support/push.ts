import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Descriptor, writeOciImage } from './images';

/**
 * Pushes an OCI layout's image to a registry over the distribution API with plain HTTP requests, as a
 * client would (the project's own registry client announces itself as the chain's sync, whose pushes
 * start no chain). Much lighter than a skopeo process per image when a test pushes a burst.
 */
export async function pushLayout(layoutDir: string, manifest: Descriptor, registryUrl: string, repository: string, tag: string): Promise<void> {
  const blob = (digest: string) => readFileSync(join(layoutDir, 'blobs', 'sha256', digest.slice('sha256:'.length)));
  const manifestBytes = blob(manifest.digest);
  const parsed = JSON.parse(manifestBytes.toString('utf8')) as { config: { digest: string }; layers: Array<{ digest: string }> };
  for (const digest of [parsed.config.digest, ...parsed.layers.map((l) => l.digest)]) {
    const head = await fetch(`${registryUrl}/v2/${repository}/blobs/${digest}`, { method: 'HEAD' });
    if (head.ok) continue;
    const opened = await fetch(`${registryUrl}/v2/${repository}/blobs/uploads/`, { method: 'POST' });
    const location = opened.headers.get('location');
    if (opened.status !== 202 || !location) throw new Error(`upload not opened: HTTP ${opened.status}`);
    const target = new URL(location, registryUrl);
    target.searchParams.set('digest', digest);
    const put = await fetch(target, { method: 'PUT', body: blob(digest), headers: { 'content-type': 'application/octet-stream' } });
    if (put.status !== 201) throw new Error(`blob ${digest} not committed: HTTP ${put.status} ${await put.text()}`);
  }
  const put = await fetch(`${registryUrl}/v2/${repository}/manifests/${tag}`, {
    method: 'PUT',
    body: manifestBytes,
    headers: { 'content-type': manifest.mediaType },
  });
  if (put.status !== 201) throw new Error(`manifest not stored: HTTP ${put.status} ${await put.text()}`);
}

/** A small image of its own (one file naming `seed`, so every seed has another digest), pushed under repository:tag. */
export async function pushUniqueImage(workDir: string, registryUrl: string, repository: string, tag: string, seed: string): Promise<string> {
  const layout = join(workDir, seed.replace(/[^a-z0-9-]/gi, '_'));
  const desc = await writeOciImage(layout, { layers: [[{ path: 'etc/image-id', content: `${seed}\n` }]], user: '1000' }, tag);
  await pushLayout(layout, desc, registryUrl, repository, tag);
  return desc.digest;
}
