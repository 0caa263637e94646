/**
 * Authenticity of Git webhook deliveries: GitHub's X-Hub-Signature-256 (`sha256=` + HMAC-SHA256 of
 * the raw body), Gitea's X-Gitea-Signature (the same HMAC as bare hex; newer Gitea also sends the
 * GitHub header) and GitLab's X-Gitlab-Token (the shared secret itself). Comparisons are constant-time.
 */
import { createHmac } from 'node:crypto';
import { ChainError } from '../../errors';
import { secretsEqual } from '../../ingest';
import { type GitFormat } from './payloads';

type Headers = Record<string, string | string[] | undefined>;

const first = (value: string | string[] | undefined) => (Array.isArray(value) ? value[0] : value);

export function hmacHex(secret: string, body: Buffer): string {
  return createHmac('sha256', secret).update(body).digest('hex');
}

export function verifyGitDelivery(format: GitFormat, headers: Headers, body: Buffer, secret: string): void {
  if (format === 'gitlab') {
    const token = first(headers['x-gitlab-token']);
    if (!token) throw new ChainError('UNAUTHORIZED', 'missing X-Gitlab-Token header');
    if (!secretsEqual(token, secret)) throw new ChainError('UNAUTHORIZED', "X-Gitlab-Token does not match this source's secret");
    return;
  }
  const expected = hmacHex(secret, body);
  const hub = first(headers['x-hub-signature-256']);
  if (hub !== undefined) {
    if (!secretsEqual(hub, `sha256=${expected}`)) throw new ChainError('UNAUTHORIZED', 'X-Hub-Signature-256 does not match the body');
    return;
  }
  const gitea = format === 'gitea' ? first(headers['x-gitea-signature']) : undefined;
  if (gitea !== undefined) {
    if (!secretsEqual(gitea.toLowerCase(), expected)) throw new ChainError('UNAUTHORIZED', 'X-Gitea-Signature does not match the body');
    return;
  }
  throw new ChainError(
    'UNAUTHORIZED',
    format === 'github' ? 'missing X-Hub-Signature-256 header' : 'missing X-Gitea-Signature (or X-Hub-Signature-256) header',
  );
}
