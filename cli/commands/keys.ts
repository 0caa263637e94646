import { existsSync, writeFileSync } from 'node:fs';
import { type Command } from 'commander';
import { ChainError } from '../../src/errors';
import { ENV_KEY_PASSWORD, generateKeyPair } from '../../src/signing';

interface KeygenOptions {
  outputKeyPrefix: string;
  passwordEnv: string;
  force?: boolean;
}

/** `dchain keygen`: a P-256 key pair in cosign's format (readable by cosign, skopeo and podman). */
export function register(program: Command): void {
  program
    .command('keygen')
    .description('generate an ECDSA P-256 signing key pair: <prefix>.key (cosign encrypted format) and <prefix>.pub')
    .option('--output-key-prefix <prefix>', 'path prefix of the two files', 'cosign')
    .option('--password-env <name>', 'environment variable holding the password that encrypts the private key (may be empty)', ENV_KEY_PASSWORD)
    .option('--force', 'overwrite existing files')
    .action(async (opts: KeygenOptions) => {
      const password = process.env[opts.passwordEnv];
      if (password === undefined) {
        throw new ChainError('BAD_INPUT', `set ${opts.passwordEnv} to the password for the private key (an empty value means no password, as with cosign)`);
      }
      const keyPath = `${opts.outputKeyPrefix}.key`;
      const pubPath = `${opts.outputKeyPrefix}.pub`;
      for (const path of [keyPath, pubPath]) {
        if (!opts.force && existsSync(path)) throw new ChainError('BAD_INPUT', `${path} already exists (use --force to overwrite)`);
      }
      const pair = await generateKeyPair(password);
      writeFileSync(keyPath, pair.privateKeyPem, { mode: 0o600 });
      writeFileSync(pubPath, pair.publicKeyPem, { mode: 0o644 });
      process.stdout.write(`Private key written to ${keyPath}\nPublic key written to ${pubPath}\n`);
    });
}
