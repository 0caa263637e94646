import { readFileSync } from 'node:fs';
import { type Command } from 'commander';
import Table from 'cli-table3';
import { type RegistryConfig } from '../../src/config';
import { ChainError } from '../../src/errors';
import { parseImageReference, RegistryClient, RegistryDirectory } from '../../src/registry';
import { PublicKeyVerifier, verifyImage, type VerificationReport } from '../../src/signing';
import { cliConfig } from '../context';

interface VerifyOptions {
  key: string[];
  type: string[];
  json?: boolean;
  plainHttp?: boolean;
  insecure?: boolean;
}

/** `dchain verify <image-ref>`: which trusted keys signed the image, which attestations hold. */
export function register(program: Command): void {
  program
    .command('verify')
    .description('verify the cosign signatures and attestations of an image against trusted public keys')
    .argument('<image-ref>', 'host/repository@sha256:… (a tag is resolved to its digest first)')
    .option('-k, --key <file>', 'trusted public key (PEM); repeatable; default: signing.trustedKeys', collect, [])
    .option('-t, --type <predicate-type>', 'also require a valid attestation of this predicate type; repeatable', collect, [])
    .option('--json', 'print the verification report as JSON')
    .option('--plain-http', 'talk to a registry not in the configuration over http')
    .option('--insecure', 'skip TLS verification for a registry not in the configuration')
    .action(async (ref: string, opts: VerifyOptions) => {
      const config = cliConfig(program.opts());
      const keyFiles = opts.key.length ? opts.key : config.signing.trustedKeys;
      if (keyFiles.length === 0) throw new ChainError('BAD_INPUT', 'no trusted keys: pass --key <file> or configure signing.trustedKeys');
      const keys = keyFiles.map((file) => readKey(file));
      const image = parseImageReference(ref);
      const registries = new RegistryDirectory(config.registries);
      const client = registries.find(image.registry) ? registries.client(image.registry) : adHocClient(image.registry, opts);
      try {
        const digest = image.digest ?? (await resolveTag(client, image.repository, image.tag ?? 'latest'));
        const report = await verifyImage(client, image.repository, digest, keys);
        const missing = opts.type.filter((type) => !report.attestations.some((a) => a.valid && a.predicateType === type));
        if (opts.json)
          process.stdout.write(
            `${JSON.stringify({ image: `${image.registry}/${image.repository}@${digest}`, ...report, missingAttestations: missing }, null, 2)}\n`,
          );
        else printReport(report, keyFiles, keys);
        if (report.signedBy.length === 0)
          throw new ChainError('VERIFICATION_FAILED', `no valid signature by a trusted key on ${image.registry}/${image.repository}@${digest}`);
        if (missing.length) throw new ChainError('VERIFICATION_FAILED', `no valid attestation of type ${missing.join(', ')}`);
      } finally {
        await client.close();
      }
    });
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function readKey(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (cause) {
    throw new ChainError('BAD_INPUT', `cannot read public key ${file}: ${(cause as NodeJS.ErrnoException).code ?? 'error'}`);
  }
}

function adHocClient(host: string, opts: VerifyOptions): RegistryClient {
  const reg: Pick<RegistryConfig, 'url' | 'insecure'> = { url: `${opts.plainHttp ? 'http' : 'https'}://${host}`, insecure: opts.insecure === true };
  return new RegistryClient(reg);
}

async function resolveTag(client: RegistryClient, repository: string, tag: string): Promise<string> {
  const head = await client.headManifest(repository, tag);
  if (!head) throw new ChainError('NOT_FOUND', `${client.host}/${repository}:${tag} does not exist`);
  // Like cosign: verify the digest the tag names now, and say so, since tags move.
  process.stderr.write(`${client.host}/${repository}:${tag} resolves to ${head.digest}\n`);
  return head.digest;
}

function printReport(report: VerificationReport, keyFiles: string[], keys: string[]): void {
  const fileOf = new Map(keys.map((pem, i) => [PublicKeyVerifier.fromPem(pem).keyId, keyFiles[i] as string]));
  const named = (keyId: string) => `${fileOf.get(keyId) ?? ''} (${keyId.slice(0, 19)}…)`;
  const table = new Table({ head: ['check', 'result', 'key / reason'], style: { head: [], border: [] } });
  for (const id of report.signedBy) table.push(['signature', 'valid', named(id)]);
  for (const f of report.failures) table.push(['signature', f.code, f.reason]);
  for (const a of report.attestations)
    table.push([`attestation ${a.predicateType}`, a.valid ? 'valid' : (a.code ?? 'invalid'), a.valid ? named(a.keyId) : (a.reason ?? '')]);
  process.stdout.write(`${report.digest}\n${table.toString()}\n`);
}
