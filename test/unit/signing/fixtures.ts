import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const dir = join(__dirname, 'fixtures');
export const fixture = (name: string): Buffer => readFileSync(join(dir, name));
export const fixtureText = (name: string): string => readFileSync(join(dir, name), 'utf8');

/** The image cosign signed when the fixtures were made. */
export const COSIGN_IMAGE = {
  reference: '127.0.0.1:5876/demo/app',
  digest: 'sha256:fd306ee1eae44e522587e733bd5471ad723997794db32f9fcf1b4a96c1a6b043',
};
export const COSIGN_KEY_PASSWORD = 'pw';
