/**
 * Real rpm databases for the scanner's tests: tiny spec files built with `rpmbuild -bb`, installed into
 * a root filesystem by `rpm --root` itself (sqlite backend), turned into image layers; the Berkeley DB
 * variant is loaded by Berkeley DB's own db_load from the headers `rpmdb --exportdb` writes.
 */
import { execFileSync } from 'node:child_process';
import { lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { findTool } from '../../workers/local/tools';
import { type ImageFile } from './images';

export const RPM_TOOLS = ['rpm', 'rpmbuild', 'rpmdb'] as const;

/** Why the rpm tests cannot run here, or false. */
export function rpmSkipReason(extra: string[] = []): string | false {
  const missing = [...RPM_TOOLS, ...extra].filter((t) => !findTool(t));
  return missing.length > 0 ? `needs ${missing.join(', ')} (Debian packages rpm, db5.3-util; npm run setup -- --test)` : false;
}

export interface SubPackage {
  /** Full name (`%package -n`). */
  name: string;
  files: { path: string; content: string; config?: boolean }[];
  /** Tags that differ from the main package (Version, Release, Epoch). */
  tags?: Record<string, string>;
}

export interface SpecInput {
  name: string;
  version: string;
  release: string;
  epoch?: number;
  arch: 'noarch' | 'x86_64';
  license: string;
  vendor?: string;
  /** Binary packages built from this source (the main package only when listed by its own name). */
  packages: SubPackage[];
}

/** A spec file for rpmbuild: no sources, files written in %install, no debuginfo or brp scripts. */
export function specFile(s: SpecInput): string {
  const lines = [
    '%global debug_package %{nil}',
    '%global __os_install_post %{nil}',
    `Name: ${s.name}`,
    ...(s.epoch !== undefined ? [`Epoch: ${s.epoch}`] : []),
    `Version: ${s.version}`,
    `Release: ${s.release}`,
    `Summary: ${s.name} test package`,
    `License: ${s.license}`,
    ...(s.vendor ? [`Vendor: ${s.vendor}`] : []),
    `BuildArch: ${s.arch}`,
    '%description',
    `${s.name} built by the scanner tests.`,
  ];
  for (const p of s.packages.filter((p) => p.name !== s.name)) {
    lines.push(
      `%package -n ${p.name}`,
      `Summary: ${p.name} test package`,
      ...Object.entries(p.tags ?? {}).map(([k, v]) => `${k}: ${v}`),
      `%description -n ${p.name}`,
      `${p.name}.`,
    );
  }
  lines.push('%install');
  for (const p of s.packages) {
    for (const f of p.files) {
      const dir = f.path.slice(0, f.path.lastIndexOf('/'));
      lines.push(`mkdir -p %{buildroot}${dir}`, `printf '%s\\n' '${f.content}' > %{buildroot}${f.path}`);
    }
  }
  for (const p of s.packages) {
    lines.push(p.name === s.name ? '%files' : `%files -n ${p.name}`);
    for (const f of p.files) lines.push(f.config ? `%config(noreplace) ${f.path}` : f.path);
  }
  return `${lines.join('\n')}\n`;
}

/** Builds the binary rpms of a spec; returns their paths. */
export function rpmbuild(workDir: string, spec: SpecInput): string[] {
  const top = join(workDir, 'rpmbuild');
  const specPath = join(workDir, `${spec.name}-${spec.version}-${spec.release}.spec`);
  writeFileSync(specPath, specFile(spec));
  execFileSync('rpmbuild', ['-bb', '--quiet', '--define', `_topdir ${top}`, specPath], { stdio: ['ignore', 'ignore', 'pipe'] });
  const out = join(top, 'RPMS', spec.arch);
  return spec.packages.map((p) => {
    const epochless = p.tags?.Version ? `${p.name}-${p.tags.Version}-${p.tags.Release ?? spec.release}` : `${p.name}-${spec.version}-${spec.release}`;
    return join(out, `${epochless}.${spec.arch}.rpm`);
  });
}

const rpmArgs = (root: string) => ['--root', root, '--dbpath', '/var/lib/rpm', '--define', '_db_backend sqlite'];

/** `rpm -U` of files into the root (files and database), as an image build would. */
export function rpmInstall(root: string, rpms: string[]): void {
  execFileSync('rpm', [...rpmArgs(root), '-U', '--nodeps', ...rpms], { stdio: ['ignore', 'ignore', 'pipe'] });
}

export function rpmInitDb(root: string): void {
  mkdirSync(join(root, 'var/lib/rpm'), { recursive: true });
  execFileSync('rpm', [...rpmArgs(root), '--initdb']);
}

export function rpmImportKey(root: string, armoredKey: string): void {
  execFileSync('rpm', [...rpmArgs(root), '--import', armoredKey]);
}

export interface RpmTruth {
  name: string;
  epoch: number;
  version: string;
  release: string;
  arch: string;
  sourceRpm: string;
}

/** What rpm itself lists for a root (the ground truth). */
export function rpmQueryAll(root: string, backend = 'sqlite'): RpmTruth[] {
  const out = execFileSync(
    'rpm',
    [
      '--root',
      root,
      '--dbpath',
      '/var/lib/rpm',
      '--define',
      `_db_backend ${backend}`,
      '-qa',
      '--qf',
      '%{NAME} %{EPOCHNUM} %{VERSION} %{RELEASE} %{ARCH} %{SOURCERPM}\\n',
    ],
    {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  return out
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const [name, epoch, version, release, arch, sourceRpm] = l.split(' ');
      return { name: name!, epoch: Number(epoch), version: version!, release: release!, arch: arch!, sourceRpm: sourceRpm! };
    });
}

/** The header blobs of a root's database, as `rpmdb --exportdb` writes them (8-byte magic, il, dl, index, data). */
export function exportHeaders(root: string): Buffer[] {
  const stream = execFileSync('rpmdb', [...rpmArgs(root), '--exportdb'], { maxBuffer: 256 * 1024 * 1024 });
  const blobs: Buffer[] = [];
  for (let at = 0; at < stream.length;) {
    if (stream.readUInt32BE(at) !== 0x8eade801) throw new Error(`no header magic at ${at}`);
    const il = stream.readUInt32BE(at + 8);
    const dl = stream.readUInt32BE(at + 12);
    const end = at + 16 + il * 16 + dl;
    blobs.push(stream.subarray(at + 8, end));
    at = end;
  }
  return blobs;
}

/** A Berkeley DB hash `Packages` file written by db_load: keys are header numbers in host (little-endian) order. */
export function writeBdbPackages(path: string, blobs: Buffer[], workDir: string): void {
  const dump = ['VERSION=3', 'format=bytevalue', 'type=hash', 'db_pagesize=4096', 'HEADER=END'];
  blobs.forEach((blob, i) => {
    const key = Buffer.alloc(4);
    key.writeUInt32LE(i + 1);
    dump.push(` ${key.toString('hex')}`, ` ${blob.toString('hex')}`);
  });
  dump.push('DATA=END');
  const dumpFile = join(workDir, 'Packages.dump');
  writeFileSync(dumpFile, `${dump.join('\n')}\n`);
  mkdirSync(join(path, '..'), { recursive: true });
  execFileSync('db5.3_load', ['-f', dumpFile, path]);
}

/** Key/value pairs of a Berkeley DB file as Berkeley DB's own db_dump prints them (hex). */
export function bdbDump(path: string): { key: string; value: string }[] {
  const lines = execFileSync('db5.3_dump', [path], { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 }).split('\n');
  const start = lines.indexOf('HEADER=END') + 1;
  const end = lines.indexOf('DATA=END');
  const items = lines.slice(start, end).map((l) => l.trim());
  const out: { key: string; value: string }[] = [];
  for (let i = 0; i + 1 < items.length; i += 2) out.push({ key: items[i]!, value: items[i + 1]! });
  return out;
}

type Snapshot = Map<string, ImageFile>;

/** Every entry under `root` as image files (content read for regular files). */
export function snapshot(root: string): Snapshot {
  const out: Snapshot = new Map();
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      const full = join(dir, name);
      const path = relative(root, full);
      const st = lstatSync(full);
      if (st.isDirectory()) {
        out.set(path, { path, type: 'directory', mode: st.mode & 0o7777 });
        walk(full);
      } else if (st.isSymbolicLink()) out.set(path, { path, type: 'symlink', linkname: readlinkSync(full) });
      else if (st.isFile()) out.set(path, { path, content: readFileSync(full), mode: st.mode & 0o7777 });
    }
  };
  walk(root);
  return out;
}

/** The entries of `after` that are new or changed since `before` (a layer's diff; nothing here deletes). */
export function diffLayer(before: Snapshot, after: Snapshot): ImageFile[] {
  const out: ImageFile[] = [];
  for (const [path, f] of after) {
    const old = before.get(path);
    const same =
      old &&
      old.type === f.type &&
      old.linkname === f.linkname &&
      old.mode === f.mode &&
      Buffer.compare(Buffer.from(old.content ?? ''), Buffer.from(f.content ?? '')) === 0;
    if (!same) out.push(f);
  }
  return out;
}
