import { z } from 'zod';
import { type Credentials } from '../config';
import { ChainError } from '../errors';
import { type Challenge } from './challenge';

/** GET of a token endpoint: status and body text. */
export type TokenFetcher = (url: string, headers: Record<string, string>) => Promise<{ status: number; text: string }>;

const tokenResponseSchema = z
  .looseObject({
    token: z.string().min(1).optional(),
    access_token: z.string().min(1).optional(),
    expires_in: z.number().int().positive().optional(),
  })
  .refine((r) => r.token !== undefined || r.access_token !== undefined, 'token or access_token is required');

/** The token spec's default lifetime when the server does not say (60 s); refreshed 10 s early. */
const DEFAULT_TOKEN_SECONDS = 60;
const REFRESH_MARGIN_MS = 10_000;

interface CachedToken {
  value: Promise<string>;
  expiresAt: number;
}

/**
 * Authorization for one registry: anonymous, basic, a static bearer token, or the Docker token flow
 * (learned from the registry's challenge; tokens fetched and cached per scope set, dropped on 401).
 */
export class Authenticator {
  private challenge: Challenge | undefined;
  private readonly tokens = new Map<string, CachedToken>();

  constructor(
    private readonly credentials: Credentials | undefined,
    private readonly fetchToken: TokenFetcher,
  ) {}

  /** The Authorization header for a request needing `scopes`, or undefined to go anonymous. */
  async header(scopes: string[]): Promise<string | undefined> {
    if (this.credentials && 'token' in this.credentials) return `Bearer ${this.credentials.token}`;
    const challenge = this.challenge;
    if (!challenge) return undefined;
    if (challenge.scheme === 'basic') return this.basic();
    return `Bearer ${await this.bearer(challenge, scopes)}`;
  }

  /**
   * Learns from a 401. Returns the scopes to retry with, or undefined when retrying cannot help
   * (no credentials for basic auth, a static token, or nothing changed since the last attempt).
   */
  onUnauthorized(challenge: Challenge | undefined, scopes: string[], sentAuthorization: boolean): string[] | undefined {
    if (!challenge || (this.credentials && 'token' in this.credentials)) return undefined;
    const learned = !sameChallenge(this.challenge, challenge);
    this.challenge = challenge;
    if (challenge.scheme === 'basic') return this.credentials && (learned || !sentAuthorization) ? scopes : undefined;
    const extra = challenge.scope ? challenge.scope.split(' ').filter((s) => !scopes.includes(s)) : [];
    const retryScopes = [...scopes, ...extra];
    const key = scopeKey(challenge, retryScopes);
    const hadToken = this.tokens.has(key);
    this.tokens.delete(key);
    return learned || extra.length > 0 || hadToken || !sentAuthorization ? retryScopes : undefined;
  }

  private basic(): string | undefined {
    if (!this.credentials || !('username' in this.credentials)) return undefined;
    return `Basic ${Buffer.from(`${this.credentials.username}:${this.credentials.password}`).toString('base64')}`;
  }

  private bearer(challenge: Extract<Challenge, { scheme: 'bearer' }>, scopes: string[]): Promise<string> {
    const key = scopeKey(challenge, scopes);
    const cached = this.tokens.get(key);
    if (cached && cached.expiresAt > Date.now()) return cached.value;
    const entry: CachedToken = { value: Promise.resolve(''), expiresAt: Number.POSITIVE_INFINITY };
    entry.value = this.requestToken(challenge, scopes).then(
      ({ token, seconds }) => {
        entry.expiresAt = Date.now() + seconds * 1000 - REFRESH_MARGIN_MS;
        return token;
      },
      (err: unknown) => {
        this.tokens.delete(key);
        throw err;
      },
    );
    this.tokens.set(key, entry);
    return entry.value;
  }

  private async requestToken(challenge: Extract<Challenge, { scheme: 'bearer' }>, scopes: string[]): Promise<{ token: string; seconds: number }> {
    let url: URL;
    try {
      url = new URL(challenge.realm);
    } catch (err) {
      throw new ChainError('REGISTRY_ERROR', `token realm "${challenge.realm}" is not a URL`, { cause: err, retryable: false });
    }
    if (challenge.service !== undefined) url.searchParams.set('service', challenge.service);
    for (const scope of scopes) url.searchParams.append('scope', scope);
    const basic = this.basic();
    const { status, text } = await this.fetchToken(url.toString(), basic ? { authorization: basic } : {});
    if (status === 401 || status === 403) {
      throw new ChainError(
        status === 401 ? 'UNAUTHORIZED' : 'DENIED',
        `token server ${url.origin}${url.pathname} refused the ${basic ? 'credentials' : 'anonymous request'} (HTTP ${status})`,
      );
    }
    if (status !== 200) throw new ChainError('REGISTRY_ERROR', `token server ${url.origin}${url.pathname} answered HTTP ${status}`);
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch (err) {
      throw new ChainError('REGISTRY_ERROR', `token server ${url.origin}${url.pathname} did not answer JSON`, { cause: err });
    }
    const parsed = tokenResponseSchema.safeParse(body);
    if (!parsed.success) throw new ChainError('REGISTRY_ERROR', `token server ${url.origin}${url.pathname} answered without a token`);
    return { token: (parsed.data.token ?? parsed.data.access_token) as string, seconds: parsed.data.expires_in ?? DEFAULT_TOKEN_SECONDS };
  }
}

function scopeKey(challenge: Extract<Challenge, { scheme: 'bearer' }>, scopes: string[]): string {
  return `${challenge.realm}|${challenge.service ?? ''}|${[...scopes].sort().join(' ')}`;
}

function sameChallenge(a: Challenge | undefined, b: Challenge): boolean {
  if (!a || a.scheme !== b.scheme) return false;
  if (a.scheme === 'basic' || b.scheme === 'basic') return true;
  return a.realm === b.realm && a.service === b.service;
}
