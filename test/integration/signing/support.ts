import { execFile } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after } from 'node:test';
import { RegistryClient } from '../../../src/registry';
import { generateKeyPair } from '../../../src/signing';
import { findTool, PROJECT_ROOT, requireTool } from '../../../workers/local/tools';
import { busyboxSpec, pushImage, writeOciImage } from '../../support/images';
import { useRegistry } from '../../support/services';

export interface ToolResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a tool and returns its exit code and output instead of throwing, so tests can assert on failures. */
export function runTool(path: string, args: string[], env: NodeJS.ProcessEnv = {}, timeout = 60_000): Promise<ToolResult> {
  return new Promise((resolve) => {
    execFile(path, args, { env: { ...process.env, ...env }, timeout, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/** Runs the `dchain` command line as a user would. */
export function dchain(args: string[], env: NodeJS.ProcessEnv = {}): Promise<ToolResult> {
  return runTool(join(PROJECT_ROOT, 'node_modules', '.bin', 'tsx'), [join(PROJECT_ROOT, 'cli', 'dchain.ts'), ...args], env);
}

export interface SigningFixture {
  host: string;
  client: RegistryClient;
  repo: string;
  digest: string;
  /** host/repo@digest */
  ref: string;
}

/** A docker-registry with a busybox image pushed as `<repo>:v1`, and a client for it. */
export async function registryWithImage(dir: string, repo = 'team/app', variant = 'one'): Promise<SigningFixture> {
  const registry = await useRegistry({ dataDir: dir });
  const client = new RegistryClient({ url: registry.url });
  after(() => client.close());
  const digest = (await writeOciImage(join(dir, 'image'), busyboxSpec({ extra: [{ path: 'etc/variant', content: variant }] }), 'v1')).digest;
  await pushImage(join(dir, 'image'), 'v1', `${registry.host}/${repo}:v1`);
  return { host: registry.host, client, repo, digest, ref: `${registry.host}/${repo}@${digest}` };
}

/** Pushes another image into the same repository and returns its digest. */
export async function pushOtherImage(fixture: SigningFixture, dir: string, variant: string): Promise<string> {
  const digest = (await writeOciImage(join(dir, `image-${variant}`), busyboxSpec({ extra: [{ path: 'etc/variant', content: variant }] }), variant)).digest;
  await pushImage(join(dir, `image-${variant}`), variant, `${fixture.host}/${fixture.repo}:${variant}`);
  return digest;
}

export interface KeyFiles {
  keyPath: string;
  pubPath: string;
  password: string;
  publicKeyPem: string;
  privateKeyPem: string;
}

/** A cosign-format key pair written to `<dir>/<name>.key` / `.pub`. */
export async function writeKeyPair(dir: string, name: string, password = `pw-${name}`): Promise<KeyFiles> {
  const pair = await generateKeyPair(password);
  const keyPath = join(dir, `${name}.key`);
  const pubPath = join(dir, `${name}.pub`);
  writeFileSync(keyPath, pair.privateKeyPem, { mode: 0o600 });
  writeFileSync(pubPath, pair.publicKeyPem);
  return { keyPath, pubPath, password, publicKeyPem: pair.publicKeyPem, privateKeyPem: pair.privateKeyPem };
}

export const cosignPath = (): string => requireTool('cosign', 'built by npm run setup -- --test (scripts/setup.ts GO_PEERS)');
export const COSIGN_REGISTRY_FLAGS = ['--allow-insecure-registry', '--allow-http-registry'];

/** `cosign verify --key` without a transparency log, as for keys managed outside Sigstore. */
export function cosignVerify(pubPath: string, ref: string, extra: string[] = []): Promise<ToolResult> {
  return runTool(cosignPath(), ['verify', '--key', pubPath, '--insecure-ignore-tlog=true', ...COSIGN_REGISTRY_FLAGS, ...extra, ref], {
    COSIGN_EXPERIMENTAL: '0',
  });
}

/**
 * A skopeo that can check sigstore signatures. Debian patches sigstore out of its skopeo, so
 * `skopeo-sigstore` (in .tools/bin or PATH) is preferred: skopeo's `copy` with the same flags on skopeo's
 * engine, containers/image, built from tools/skopeo-sigstore by `npx tsx scripts/setup.ts --test` (needs Go):
 *   cd tools/skopeo-sigstore && GOFLAGS=-mod=mod go build -tags "containers_image_openpgp
 *   containers_image_storage_stub containers_image_docker_daemon_stub" -o ../../.tools/bin/skopeo-sigstore ./
 * Without it Debian's skopeo runs and the sigstore checks are skipped with that reason.
 */
export function sigstoreSkopeo(): string {
  return findTool('skopeo-sigstore') ?? requireTool('skopeo', 'Debian package skopeo');
}

export const SIGSTORE_DISABLED = /sigstore disabled/;

/** policy.json trusting `pubPath` for images of `host`, and a registries.d reading sigstore attachments there. */
export function writeSkopeoTrust(dir: string, host: string, pubPath: string): { policy: string; registriesD: string } {
  const policy = join(dir, `policy-${Date.now()}-${Math.random().toString(16).slice(2)}.json`);
  writeFileSync(
    policy,
    JSON.stringify({
      default: [{ type: 'reject' }],
      transports: {
        docker: { [host]: [{ type: 'sigstoreSigned', keyPath: pubPath, signedIdentity: { type: 'matchRepository' } }] },
        oci: { '': [{ type: 'insecureAcceptAnything' }] },
      },
    }),
  );
  const registriesD = join(dir, 'registries.d');
  mkdirSync(registriesD, { recursive: true });
  writeFileSync(join(registriesD, 'default.yaml'), `docker:\n  ${host}:\n    use-sigstore-attachments: true\n`);
  return { policy, registriesD };
}
