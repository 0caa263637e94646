import { execFileSync } from 'node:child_process';
import { createHash, createPrivateKey, createPublicKey, randomBytes, sign, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after } from 'node:test';
import { requireTool } from '../../workers/local/tools';

/**
 * A token server following the Docker registry token specification
 * (distribution docs/spec/auth/token.md, jwt.md): Basic credentials in, an ES256 JWT out whose
 * `access` claim grants the requested scopes. The registry trusts it through `rootCertBundle`.
 */
export interface TokenServer {
  url: string;
  realm: string;
  service: string;
  issuer: string;
  /** PEM certificate for the registry's auth.token.rootcertbundle. */
  rootCertBundle: string;
  /** Every token request received, for assertions on caching and scopes. */
  requests: Array<{ user: string | undefined; scopes: string[] }>;
}

export interface TokenServerOptions {
  dataDir: string;
  users: Record<string, string>;
  /** Seconds a token lives (expires_in). */
  expiresIn?: number;
}

export async function useTokenServer(options: TokenServerOptions): Promise<TokenServer> {
  const keyFile = join(options.dataDir, 'token-key.pem');
  const certFile = join(options.dataDir, 'token-cert.pem');
  execFileSync(
    requireTool('openssl', 'Debian package openssl'),
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      keyFile,
      '-out',
      certFile,
      '-subj',
      '/CN=delivery-chain test token issuer',
      '-days',
      '2',
    ],
    { stdio: 'ignore' },
  );
  const privateKey = createPrivateKey(readFileSync(keyFile));
  const kid = libtrustKeyId(createPublicKey(privateKey).export({ type: 'spki', format: 'der' }));
  const service = 'delivery-chain-test-registry';
  const issuer = 'delivery-chain-test-issuer';
  const requests: TokenServer['requests'] = [];

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://token');
    if (url.pathname !== '/token') return void res.writeHead(404).end();
    const user = authenticate(req.headers.authorization, options.users);
    const scopes = url.searchParams.getAll('scope');
    requests.push({ user: user ?? undefined, scopes });
    if (user === null) return void res.writeHead(401, { 'www-authenticate': 'Basic realm="token"' }).end();
    const now = Math.floor(Date.now() / 1000);
    const expiresIn = options.expiresIn ?? 300;
    const claims = {
      iss: issuer,
      sub: user ?? '',
      aud: url.searchParams.get('service') ?? service,
      exp: now + expiresIn,
      nbf: now - 10,
      iat: now,
      jti: randomBytes(12).toString('hex'),
      // Anonymous callers get no access; known users get what they asked for.
      access: user === undefined ? [] : scopes.map(parseScope).filter((s) => s !== undefined),
    };
    const token = jwt({ alg: 'ES256', typ: 'JWT', kid }, claims, privateKey);
    res
      .writeHead(200, { 'content-type': 'application/json' })
      .end(JSON.stringify({ token, access_token: token, expires_in: expiresIn, issued_at: new Date().toISOString() }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { url, realm: `${url}/token`, service, issuer, rootCertBundle: certFile, requests };
}

/** undefined = anonymous, null = wrong credentials, else the user name. */
function authenticate(header: string | undefined, users: Record<string, string>): string | undefined | null {
  if (!header) return undefined;
  const match = /^Basic\s+(.+)$/i.exec(header);
  if (!match) return null;
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  const user = decoded.slice(0, colon);
  const expected = users[user];
  if (colon < 0 || expected === undefined) return null;
  const given = Buffer.from(decoded.slice(colon + 1));
  return given.length === Buffer.byteLength(expected) && timingSafeEqual(given, Buffer.from(expected)) ? user : null;
}

/** "repository:app/x:pull,push" → { type, name, actions }. */
function parseScope(scope: string): { type: string; name: string; actions: string[] } | undefined {
  const first = scope.indexOf(':');
  const last = scope.lastIndexOf(':');
  if (first <= 0 || last <= first) return undefined;
  return { type: scope.slice(0, first), name: scope.slice(first + 1, last), actions: scope.slice(last + 1).split(',') };
}

function jwt(header: object, claims: object, key: ReturnType<typeof createPrivateKey>): string {
  const encode = (v: object) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const input = `${encode(header)}.${encode(claims)}`;
  const signature = sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' });
  return `${input}.${signature.toString('base64url')}`;
}

/** The key ID distribution 2.8 matches `kid` against: libtrust's base32 of SHA-256(SPKI)[:30], in groups of 4. */
function libtrustKeyId(spkiDer: Buffer): string {
  const bytes = createHash('sha256').update(spkiDer).digest().subarray(0, 30);
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = 0;
  let value = 0;
  let out = '';
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += alphabet[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  return out.match(/.{4}/g)!.join(':');
}
