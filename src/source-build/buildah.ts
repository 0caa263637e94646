/**
 * buildah, daemonless, against a project-owned storage root (never the system store). Each method
 * is one buildah command; failures become ChainErrors classified from buildah's error output:
 * a broken Dockerfile or missing base image is permanent, registry and network trouble is retried.
 */
import { ChainError } from '../errors';
import { type BuildahSettings } from './buildah-settings';
import { lastLines, locateTool, runTool, type RunToolOptions, ToolFailure } from './run-tool';

export interface BuildahOptions {
  root: string;
  runroot: string;
  storageDriver: 'vfs' | 'overlay';
  isolation: 'chroot' | 'oci' | 'rootless';
  settings: BuildahSettings;
  timeoutMs: number;
  signal?: AbortSignal;
}

const NETWORK =
  /connection refused|i\/o timeout|no such host|tls handshake timeout|connection reset|network is unreachable|timeout exceeded|unexpected EOF|50[234] |too many requests|pinging container registry/i;
const UNAUTHORIZED = /unauthorized|authentication required|denied: requested access/i;
const MISSING_IMAGE = /manifest unknown|name unknown|repository name not known|not found: manifest|reading manifest .* not found/i;

type Stage = 'build' | 'push' | 'storage';

export function classifyBuildahFailure(err: unknown, stage: Stage): ChainError {
  if (!(err instanceof ToolFailure)) return err instanceof ChainError ? err : new ChainError('INTERNAL', (err as Error).message, { cause: err });
  const text = err.stderr;
  const tail = lastLines(text, 4) || err.message;
  const details = { command: err.command, exitCode: err.exitCode };
  if (err.reason === 'aborted') return new ChainError('TRANSIENT', `${err.command} was cancelled`, { cause: err, details });
  if (err.reason === 'timeout') return new ChainError('TRANSIENT', `${err.command} timed out: ${tail}`, { cause: err, details });
  if (err.reason === 'spawn') return new ChainError('PREREQUISITE_MISSING', `${err.command} could not start: ${tail}`, { cause: err, details });
  if (UNAUTHORIZED.test(text))
    return new ChainError('UNAUTHORIZED', `${err.command}: registry refused the credentials: ${tail}`, { cause: err, retryable: false, details });
  if (stage === 'build' && MISSING_IMAGE.test(text))
    return new ChainError('BUILD_FAILED', `base image not found: ${tail}`, { cause: err, retryable: false, details });
  if (NETWORK.test(text)) return new ChainError('REGISTRY_ERROR', `${err.command}: registry unreachable: ${tail}`, { cause: err, retryable: true, details });
  if (stage === 'build') return new ChainError('BUILD_FAILED', `the Dockerfile did not build: ${tail}`, { cause: err, retryable: false, details });
  if (stage === 'push') return new ChainError('REGISTRY_ERROR', `${err.command}: ${tail}`, { cause: err, retryable: true, details });
  return new ChainError('INTERNAL', `${err.command}: ${tail}`, { cause: err, details });
}

export class Buildah {
  private readonly executable = locateTool('buildah', 'Debian package buildah');

  constructor(private readonly opts: BuildahOptions) {}

  /** `cleanup` commands run even after the build was cancelled, so nothing is left in the storage root. */
  private async run(args: string[], stage: Stage, extra: Pick<RunToolOptions, 'onLine'> & { cleanup?: boolean } = {}): Promise<string> {
    const global = ['--root', this.opts.root, '--runroot', this.opts.runroot, '--storage-driver', this.opts.storageDriver];
    const env = {
      ...process.env,
      CONTAINERS_REGISTRIES_CONF: this.opts.settings.registriesConf,
      REGISTRY_AUTH_FILE: this.opts.settings.authFile,
      BUILDAH_LAYERS: 'false',
    };
    try {
      const { stdout } = await runTool(this.executable, [...global, ...args], {
        label: `buildah ${args[0]}`,
        env,
        timeoutMs: this.opts.timeoutMs,
        ...(this.opts.signal && !extra.cleanup ? { signal: this.opts.signal } : {}),
        ...(extra.onLine ? { onLine: extra.onLine } : {}),
      });
      return stdout.trim();
    } catch (err) {
      throw classifyBuildahFailure(err, stage);
    }
  }

  async version(): Promise<string> {
    const out = await this.run(['version', '--json'], 'storage');
    return (JSON.parse(out) as { version?: string }).version ?? 'unknown';
  }

  /** Builds the Dockerfile; returns the image id. `timestamp` (epoch seconds) makes the output reproducible. */
  async build(b: {
    contextDir: string;
    dockerfile: string;
    buildArgs: Record<string, string>;
    iidFile: string;
    timestamp: number;
    onLine?: (line: string) => void;
  }): Promise<void> {
    const args = [
      'bud',
      '--isolation',
      this.opts.isolation,
      '--authfile',
      this.opts.settings.authFile,
      '--pull',
      '--timestamp',
      String(b.timestamp),
      '--iidfile',
      b.iidFile,
      '-f',
      b.dockerfile,
    ];
    for (const [name, value] of Object.entries(b.buildArgs)) args.push('--build-arg', `${name}=${value}`);
    await this.run([...args, b.contextDir], 'build', b.onLine ? { onLine: b.onLine } : {});
  }

  async inspectImage(reference: string): Promise<BuildahImage> {
    return JSON.parse(await this.run(['inspect', '--type', 'image', reference], 'storage')) as BuildahImage;
  }

  async from(imageId: string, name: string): Promise<string> {
    return this.run(['from', '--pull-never', '--name', name, imageId], 'storage');
  }

  async mount(container: string): Promise<string> {
    return this.run(['mount', container], 'storage');
  }

  async unmount(container: string): Promise<void> {
    await this.run(['umount', container], 'storage');
  }

  async commit(container: string, c: { iidFile: string; createdBy: string; timestamp: number }): Promise<void> {
    await this.run(['config', '--created-by', c.createdBy, container], 'storage');
    await this.run(['commit', '--quiet', '--format', 'oci', '--timestamp', String(c.timestamp), '--iidfile', c.iidFile, container], 'storage');
  }

  async push(imageId: string, destination: string, digestFile: string): Promise<void> {
    await this.run(['push', '--authfile', this.opts.settings.authFile, '--digestfile', digestFile, imageId, `docker://${destination}`], 'push');
  }

  async removeContainer(container: string): Promise<void> {
    await this.run(['rm', container], 'storage', { cleanup: true });
  }

  async removeImage(imageId: string): Promise<void> {
    await this.run(['rmi', '--force', imageId], 'storage', { cleanup: true });
  }
}

/** The fields of `buildah inspect --type image` the build stage reads. */
export interface BuildahImage {
  FromImageID?: string;
  FromImageDigest?: string;
  OCIv1?: { config?: { User?: string } };
}
