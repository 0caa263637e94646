import { readFileSync } from 'node:fs';
import type * as Tls from 'node:tls';
import { type ConnectionOptions, type SecureContext } from 'node:tls';
import type * as Undici from 'undici';

/**
 * NODE_EXTRA_CA_CERTS, handed over by bin/dchain-compiled for a scan. Node 20 reads that file and parses it with its
 * own root certificates while the process starts, before any of our code, whether or not the process opens a TLS
 * connection: with a distribution's CA bundle in it (a common setting behind a TLS-inspecting proxy) that was 35 ms
 * of every `dchain scan`, twice node's own start-up, for a scan of an archive that never connects anywhere. So the
 * launcher starts a scan's node without the variable and passes its value here, and the TLS clients a scan can open
 * (the registry's, the OSV download's) trust node's root certificates plus that file, as node would have: the same
 * trust, paid for by the scans that use TLS, on their first connection.
 */
export const DEFERRED_EXTRA_CA_CERTS = 'DCHAIN_DEFERRED_EXTRA_CA_CERTS';

let cached: { file: string | undefined; context: SecureContext | undefined } | undefined;

/**
 * One secure context for node's root certificates and the deferred file's, built on first use and shared, as node
 * shares its root store (each connection given `ca` instead would parse them again: 60 ms for 280 certificates).
 * Undefined when nothing was deferred: node's defaults already hold what NODE_EXTRA_CA_CERTS named.
 */
export function deferredCaContext(): SecureContext | undefined {
  const file = process.env[DEFERRED_EXTRA_CA_CERTS] || undefined;
  if (cached && cached.file === file) return cached.context;
  if (!file) {
    cached = { file, context: undefined };
    return undefined;
  }
  let extra: string[] = [];
  try {
    extra = [readFileSync(file, 'utf8')];
  } catch (err) {
    // Node's own words and behaviour for an unreadable NODE_EXTRA_CA_CERTS: warn, and trust its roots only.
    process.emitWarning(`Ignoring extra certs from \`${file}\`, load failed: ${(err as Error).message}`);
  }
  // Required here, not imported: the scan's startup snapshot (cli/snapshot.ts) cannot hold node's TLS module.
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- lazy on purpose, see above
  const { createSecureContext, rootCertificates } = require('node:tls') as typeof Tls;
  cached = { file, context: createSecureContext({ ca: [...rootCertificates, ...extra] }) };
  return cached.context;
}

/**
 * undici's `connect` option for TLS settings `options`: as they are, unless they name no CA of their own and a file
 * was deferred; then a connector that builds the deferred context only when a connection is TLS, so that a plain
 * HTTP registry or an archive's scan never pays for it. `timeoutMs` is undici's connect timeout, which a connector
 * function has to carry itself.
 */
export function connectWithDeferredCa(
  undici: Pick<typeof Undici, 'buildConnector'>,
  options: ConnectionOptions,
  timeoutMs: number,
): ConnectionOptions | Undici.buildConnector.connector {
  if (options.ca || !process.env[DEFERRED_EXTRA_CA_CERTS]) return options;
  const plain = undici.buildConnector({ ...options, timeout: timeoutMs });
  let tls: Undici.buildConnector.connector | undefined;
  return (opts, callback) => {
    if (opts.protocol !== 'https:') return plain(opts, callback);
    tls ??= undici.buildConnector({ ...options, timeout: timeoutMs, secureContext: deferredCaContext() });
    return tls(opts, callback);
  };
}
