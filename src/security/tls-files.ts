import { readFileSync } from 'node:fs';
import { type ConnectionOptions } from 'node:tls';
import { ChainError } from '../errors';
import { type ClientTlsConfig } from '../config';

/** A certificate, key, CA bundle or secret file; an unreadable one stops the process with the path and the reason. */
export function readSecurityFile(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (cause) {
    throw new ChainError('CONFIG_UNREADABLE', `cannot read ${what} ${path}: ${(cause as Error).message}`, { cause });
  }
}

/** A password file's content without its trailing newline (what `echo secret > file` leaves). */
export function readPasswordFile(path: string, what: string): string {
  const value = readSecurityFile(path, what)
    .toString('utf8')
    .replace(/\r?\n$/, '');
  if (!value) throw new ChainError('CONFIG_INVALID', `${what} ${path} is empty`);
  return value;
}

/** Node's TLS client options for the configured files (read now; absent fields keep Node's defaults). */
export function clientTlsOptions(tls: ClientTlsConfig | undefined, service: string): ConnectionOptions {
  if (!tls) return {};
  return {
    ...(tls.caFile ? { ca: readSecurityFile(tls.caFile, `${service} TLS CA file`) } : {}),
    ...(tls.certFile ? { cert: readSecurityFile(tls.certFile, `${service} TLS certificate file`) } : {}),
    ...(tls.keyFile ? { key: readSecurityFile(tls.keyFile, `${service} TLS key file`) } : {}),
    ...(tls.serverName ? { servername: tls.serverName } : {}),
  };
}
