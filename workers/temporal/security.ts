/**
 * What Temporal connections add to the address (workers/temporal/connect.ts): the frontend's TLS,
 * mutual when a client certificate is configured, and the payload codec of clients and workers.
 */
import { type DataConverter, type TLSConfig } from '@temporalio/client';
import { type Config, type PayloadCodecConfig } from '../../src/config';
import { PayloadEncryption, readSecurityFile } from '../../src/security';

/** `tls` for Connection.connect and NativeConnection.connect (both take this shape); undefined = plaintext. */
export function temporalTls(config: Config): TLSConfig | undefined {
  const tls = config.temporal.tls;
  if (!tls) return undefined;
  return {
    ...(tls.serverName ? { serverNameOverride: tls.serverName } : {}),
    ...(tls.caFile ? { serverRootCACertificate: readSecurityFile(tls.caFile, 'temporal.tls.caFile') } : {}),
    ...(tls.certFile && tls.keyFile
      ? { clientCertPair: { crt: readSecurityFile(tls.certFile, 'temporal.tls.certFile'), key: readSecurityFile(tls.keyFile, 'temporal.tls.keyFile') } }
      : {}),
  };
}

const codecs = new Map<PayloadCodecConfig, PayloadEncryption>();

/** The data converter of clients and workers: the payload codec when `temporal.codec` is set (its keys read once). */
export function temporalDataConverter(config: Config): DataConverter | undefined {
  const codec = config.temporal.codec;
  if (!codec) return undefined;
  let encryption = codecs.get(codec);
  if (!encryption) {
    encryption = PayloadEncryption.fromConfig(codec);
    codecs.set(codec, encryption);
  }
  return { payloadCodecs: [encryption] };
}

/** `{ dataConverter }` to spread into Client and Worker options (nothing without a codec). */
export function withDataConverter(config: Config): { dataConverter?: DataConverter } {
  const dataConverter = temporalDataConverter(config);
  return dataConverter ? { dataConverter } : {};
}
