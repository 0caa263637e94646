import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createSecureContext, type SecureContextOptions, type Server as TlsServer } from 'node:tls';
import { type Logger } from '../log';
import { readSecurityFile } from './tls-files';

export interface ServerCertificateFiles {
  certFile: string;
  keyFile: string;
  /** Client certificates signed by this CA are required (mutual TLS). */
  caFile?: string;
}

/** The HTTPS options of a listener serving these files (read now). */
export function serverTlsOptions(files: ServerCertificateFiles): SecureContextOptions & { requestCert?: boolean; rejectUnauthorized?: boolean } {
  return {
    cert: readSecurityFile(files.certFile, 'TLS certificate file'),
    key: readSecurityFile(files.keyFile, 'TLS key file'),
    ...(files.caFile ? { ca: readSecurityFile(files.caFile, 'TLS client CA file'), requestCert: true, rejectUnauthorized: true } : {}),
  };
}

/**
 * Serves renewed certificates without a restart: every `intervalMs` the files are read and, when
 * their content changed, the new pair becomes the server's secure context for new connections
 * (`server.setSecureContext`; established ones keep theirs). Reading the content rather than
 * watching events copes with every way certificates get replaced: an editor, `mv` over the file, a
 * Kubernetes Secret volume swapping its `..data` symlink, cert-manager. A pair that does not load
 * (the certificate written, the key not yet) keeps the old one and is tried again on the next tick.
 * Returns the function that stops watching.
 */
export function reloadCertificates(server: TlsServer, files: ServerCertificateFiles, logger: Logger, intervalMs: number): () => void {
  const fingerprint = () => {
    const hash = createHash('sha256');
    for (const path of [files.certFile, files.keyFile, files.caFile]) if (path) hash.update(readFileSync(path)).update('\0');
    return hash.digest('hex');
  };
  let current: string | undefined;
  try {
    current = fingerprint();
  } catch {
    current = undefined;
  }
  let failing = false;
  const timer = setInterval(() => {
    let next: string;
    try {
      next = fingerprint();
    } catch (err) {
      if (!failing)
        logger.warn({ err: (err as Error).message, certFile: files.certFile }, 'TLS certificate files unreadable; serving the previous certificate');
      failing = true;
      return;
    }
    if (next === current) return;
    try {
      const options = serverTlsOptions(files);
      createSecureContext(options); // throws on a key that does not match the certificate
      server.setSecureContext(options);
      current = next;
      failing = false;
      logger.info({ certFile: files.certFile }, 'TLS certificate reloaded');
    } catch (err) {
      if (!failing)
        logger.warn({ err: (err as Error).message, certFile: files.certFile }, 'new TLS certificate files do not load; serving the previous certificate');
      failing = true;
    }
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
