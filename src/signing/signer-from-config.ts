import { ChainError } from '../errors';
import { type SigningKeyConfig } from '../config';
import { KeySigner } from './key-signer';
import { Pkcs11Signer } from './pkcs11-signer';
import { type Signer } from './signer';

export const ENV_KEY_PEM = 'DCHAIN_SIGNING_KEY';
export const ENV_KEY_FILE = 'DCHAIN_SIGNING_KEY_FILE';
export const ENV_KEY_PASSWORD = 'DCHAIN_SIGNING_KEY_PASSWORD';

/**
 * The Signer the configuration names, with secrets read from the environment at this moment (so
 * they never pass through workflow inputs or history). Missing secrets are PREREQUISITE_MISSING.
 */
export async function createSigner(key: SigningKeyConfig | undefined, env: NodeJS.ProcessEnv = process.env): Promise<Signer> {
  if (key?.kind === 'pkcs11') {
    const pin = env[key.pinEnv];
    if (pin === undefined) throw missing(`the PKCS#11 PIN variable ${key.pinEnv} is not set`);
    return new Pkcs11Signer({ module: key.module, tokenLabel: key.token, keyLabel: key.label, pin });
  }
  if (key?.kind === 'file') return withPasswordHint(KeySigner.fromFile(key.path, env[key.passwordEnv]), key.passwordEnv, env);
  const pem = env[ENV_KEY_PEM];
  if (pem) return withPasswordHint(KeySigner.fromPem(pem, env[ENV_KEY_PASSWORD]), ENV_KEY_PASSWORD, env);
  const file = env[ENV_KEY_FILE];
  if (file) return withPasswordHint(KeySigner.fromFile(file, env[ENV_KEY_PASSWORD]), ENV_KEY_PASSWORD, env);
  throw missing(`no signing key: configure signing.key, or set ${ENV_KEY_PEM} or ${ENV_KEY_FILE} (and ${ENV_KEY_PASSWORD} for an encrypted key)`);
}

/** An encrypted key without its password: say which variable should hold it. */
async function withPasswordHint(loading: Promise<Signer>, variable: string, env: NodeJS.ProcessEnv): Promise<Signer> {
  try {
    return await loading;
  } catch (err) {
    if (env[variable] === undefined && ChainError.is(err, 'BAD_INPUT') && /needs a password/.test(err.message)) {
      throw new ChainError('BAD_INPUT', `${err.message}: set ${variable}`);
    }
    throw err;
  }
}

function missing(message: string): ChainError {
  return new ChainError('PREREQUISITE_MISSING', message);
}
