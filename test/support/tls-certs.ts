import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { requireTool } from '../../workers/local/tools';

export interface TestCertificate {
  certFile: string;
  keyFile: string;
}

export interface TestPki {
  caFile: string;
  caKeyFile: string;
  dir: string;
  /** A certificate signed by the CA for these names (DNS names and IP addresses), usable by servers and clients. */
  issue(name: string, subjectAltNames?: string[]): TestCertificate;
}

const openssl = (args: string[]) =>
  execFileSync(requireTool('openssl', 'Debian package openssl'), args, { stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000 });

/**
 * A throwaway certificate authority made with the openssl CLI: EC P-256 keys, one-day certificates.
 * Certificates carry no extended key usage, so one serves as a server's and as a client's.
 */
export function createTestPki(dir: string, name = 'dchain test CA'): TestPki {
  mkdirSync(dir, { recursive: true });
  const caKeyFile = join(dir, 'ca.key');
  const caFile = join(dir, 'ca.crt');
  openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', caKeyFile]);
  openssl([
    'req',
    '-x509',
    '-new',
    '-key',
    caKeyFile,
    '-sha256',
    '-days',
    '1',
    '-subj',
    `/CN=${name}`,
    '-out',
    caFile,
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  let serial = 1;
  return {
    caFile,
    caKeyFile,
    dir,
    issue(certName, subjectAltNames = ['DNS:localhost', 'IP:127.0.0.1']) {
      const base = join(dir, `${certName}-${serial}`);
      const keyFile = `${base}.key`;
      const certFile = `${base}.crt`;
      const csr = `${base}.csr`;
      const ext = `${base}.ext`;
      writeFileSync(
        ext,
        [`subjectAltName=${subjectAltNames.join(',')}`, 'basicConstraints=CA:FALSE', 'keyUsage=critical,digitalSignature,keyEncipherment', ''].join('\n'),
      );
      openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', `${base}.ec.key`]);
      // PKCS#8: what every consumer here reads (Node, redis-server, the Temporal server, Rust's rustls in the worker).
      openssl(['pkcs8', '-topk8', '-nocrypt', '-in', `${base}.ec.key`, '-out', keyFile]);
      openssl(['req', '-new', '-key', keyFile, '-subj', `/CN=${certName}`, '-out', csr]);
      openssl([
        'x509',
        '-req',
        '-in',
        csr,
        '-CA',
        caFile,
        '-CAkey',
        caKeyFile,
        '-set_serial',
        String(1000 + serial),
        '-days',
        '1',
        '-sha256',
        '-extfile',
        ext,
        '-out',
        certFile,
      ]);
      serial++;
      return { certFile, keyFile };
    },
  };
}

/** A self-signed EC P-256 certificate for 127.0.0.1 (valid one day): the server's certificate is its own CA. */
export function selfSignedLoopbackCertificate(dir: string, name = 'loopback'): TestCertificate {
  mkdirSync(dir, { recursive: true });
  const keyFile = join(dir, `${name}-key.pem`);
  const certFile = join(dir, `${name}-cert.pem`);
  openssl([
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
    '/CN=127.0.0.1',
    '-addext',
    'subjectAltName=IP:127.0.0.1',
    '-days',
    '1',
  ]);
  return { keyFile, certFile };
}
