/**
 * The scan benchmark's images, built once from real packages and cached between runs:
 * - debian: a debootstrap minbase Debian 12 root filesystem (~120 MB as a gzip layer);
 * - npm-app: an Express application's node_modules from the npm registry over a busybox layer;
 * - python-app: Django, requests and PyYAML site-packages from PyPI over a busybox layer.
 * Each is written as an OCI layout; the bench derives the docker-archive and the registry copy with skopeo.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { busyboxSpec, type ImageFile, writeOciImage } from '../test/support/images';
import { CACHE_DIR, debianRootfsTar, ociLayoutFromTar } from '../test/integration/scan/rootfs-image';

export interface BenchImage {
  name: string;
  /** An OCI layout directory holding the image under `tag`. */
  layout: string;
  tag: string;
}

/** Every file under `root` as image files placed under `prefix`. */
function imageFiles(root: string, prefix: string): ImageFile[] {
  const out: ImageFile[] = [];
  const parts = prefix.split('/').filter(Boolean);
  parts.forEach((_, i) => out.push({ path: parts.slice(0, i + 1).join('/'), type: 'directory' }));
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      const full = join(dir, name);
      const path = `${prefix}/${relative(root, full)}`;
      const st = lstatSync(full);
      if (st.isSymbolicLink()) out.push({ path, type: 'symlink', linkname: readlinkSync(full) });
      else if (st.isDirectory()) {
        out.push({ path, type: 'directory' });
        walk(full);
      } else out.push({ path, content: readFileSync(full), mode: st.mode & 0o7777 });
    }
  };
  walk(root);
  return out;
}

function installed(dir: string, command: string, args: string[], cwd?: string): void {
  if (existsSync(join(dir, '.done'))) return;
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const res = spawnSync(command, args, { cwd: cwd ?? dir, encoding: 'utf8', timeout: 10 * 60_000 });
  if (res.status !== 0) throw new Error(`${command} ${args.join(' ')} failed: ${(res.stderr || res.stdout).trim().split('\n').slice(-3).join(' | ')}`);
  writeFileSync(join(dir, '.done'), '');
}

/** The benchmark images (built on first use, from the machine's package registries and Debian mirror). */
export async function benchImages(workDir: string, log: (msg: string) => void): Promise<BenchImage[]> {
  const images: BenchImage[] = [];
  const rootfs = debianRootfsTar('bookworm');
  if ('skip' in rootfs) throw new Error(`no Debian rootfs: ${rootfs.skip}`);
  log('debian: layout from the cached debootstrap rootfs');
  const debian = join(workDir, 'debian');
  await ociLayoutFromTar(withoutDeviceNodes(rootfs.tar), debian, 'bench');
  images.push({ name: 'debian', layout: debian, tag: 'bench' });

  const apps = join(CACHE_DIR, 'bench-apps');
  log('npm-app: npm install express and friends (cached)');
  const npmDir = join(apps, 'npm');
  installed(npmDir, 'sh', [
    '-c',
    `echo '{"name":"bench-app","version":"1.0.0","private":true}' > package.json && npm install --no-audit --no-fund --ignore-scripts express@4.17.1 lodash@4.17.15 minimist@1.2.0 axios@0.21.0 moment@2.29.1 jsonwebtoken@8.5.1 mongoose@5.12.0`,
  ]);
  const npmLayout = join(workDir, 'npm-app');
  await writeOciImage(
    npmLayout,
    { ...busyboxSpec(), layers: [...busyboxSpec().layers, imageFiles(npmDir, 'srv/app').filter((f) => !f.path.endsWith('/.done'))], user: '1000' },
    'bench',
  );
  images.push({ name: 'npm-app', layout: npmLayout, tag: 'bench' });

  log('python-app: pip install django, requests, PyYAML (cached)');
  const pyDir = join(apps, 'python');
  installed(pyDir, 'python3', [
    '-m',
    'pip',
    'install',
    '--quiet',
    '--disable-pip-version-check',
    '--no-compile',
    '--target',
    pyDir,
    'django==3.2.0',
    'requests==2.19.0',
    'PyYAML==5.3',
    'urllib3==1.23',
    'Jinja2==2.10',
  ]);
  const pyLayout = join(workDir, 'python-app');
  await writeOciImage(
    pyLayout,
    {
      ...busyboxSpec(),
      layers: [...busyboxSpec().layers, imageFiles(pyDir, 'usr/local/lib/python3.11/site-packages').filter((f) => !f.path.endsWith('/.done'))],
      user: '1000',
    },
    'bench',
  );
  images.push({ name: 'python-app', layout: pyLayout, tag: 'bench' });
  return images;
}

/** The stock debootstrap tar holds /dev nodes that osv-scanner refuses; every tool scans one image without them. */
function withoutDeviceNodes(tar: string): string {
  const out = join(CACHE_DIR, 'debootstrap-bookworm-nodev.tar');
  if (!existsSync(out)) {
    spawnSync('cp', [tar, `${out}.partial`]);
    const res = spawnSync('tar', ['--delete', '--wildcards', '-f', `${out}.partial`, './dev/?*']);
    if (res.status !== 0) throw new Error(`tar --delete failed: ${String(res.stderr)}`);
    spawnSync('mv', [`${out}.partial`, out]);
  }
  return out;
}
