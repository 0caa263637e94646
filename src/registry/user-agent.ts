import { version } from '../../package.json';

/** Version of delivery-chain, as sent in user agents. */
export const CHAIN_VERSION: string = version;

/** Default user agent of registry requests. */
export const DEFAULT_USER_AGENT = `delivery-chain/${CHAIN_VERSION}`;

/**
 * User agent of every push the sync stage makes. Registry notifications carry it (request.useragent),
 * so the webhook side can drop events caused by our own replication and no loop starts.
 */
export const SYNC_USER_AGENT = `delivery-chain-sync/${CHAIN_VERSION}`;

/** True for a user agent sent by the sync stage, whatever version of it. */
export function isSyncUserAgent(userAgent: string | undefined): boolean {
  return userAgent !== undefined && /^delivery-chain-sync\/\S+/.test(userAgent);
}
