import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, describe, it } from 'node:test';
import { catalogImage, detectOs, osvRelease } from '../../../src/scan/catalog';
import { parseGoBuildInfo } from '../../../src/scan/catalog/go-buildinfo';
import { archiveCoordinates } from '../../../src/scan/catalog/java';
import { type FileNode, FileTree } from '../../../src/scan/fs/tree';
import { matchPackages, OsvDatabase } from '../../../src/scan/osv';

function treeOf(files: Record<string, string | Buffer>, layer = 'sha256:l0'): FileTree {
  const tree = new FileTree();
  const entries: FileNode[] = Object.entries(files).map(([path, content]) => {
    const buf = Buffer.isBuffer(content) ? content : Buffer.from(content);
    return { path, type: 'file', mode: 0o644, uid: 0, gid: 0, size: buf.length, layerIndex: 0, layer, content: buf };
  });
  tree.apply({ index: 0, digest: layer, whiteouts: [], opaqueDirs: [], entries });
  return tree;
}

const APK_DB = `C:Q1abc=
P:musl
V:1.2.5-r0
A:x86_64
L:MIT
o:musl
F:lib
R:ld-musl-x86_64.so.1

C:Q1def=
P:libcrypto3
V:3.3.0-r2
A:x86_64
L:Apache-2.0
o:openssl
F:usr/lib
R:libcrypto.so.3
`;

void describe('catalogers', () => {
  void it('apk: name, version, origin, license and the Alpine:v3.20 release', async () => {
    const tree = treeOf({ '/etc/os-release': 'ID=alpine\nVERSION_ID=3.20.3\nPRETTY_NAME="Alpine Linux v3.20"\n', '/lib/apk/db/installed': APK_DB });
    const { os, packages } = await catalogImage({ tree, arch: 'amd64' });
    assert.equal(os?.id, 'alpine');
    assert.deepEqual(
      packages.map((p) => [p.name, p.version, p.sourceName, p.release, p.purl, p.licenses?.[0]]),
      [
        ['libcrypto3', '3.3.0-r2', 'openssl', 'Alpine:v3.20', 'pkg:apk/alpine/libcrypto3@3.3.0-r2?arch=x86_64&distro=alpine-3.20.3', 'Apache-2.0'],
        ['musl', '1.2.5-r0', 'musl', 'Alpine:v3.20', 'pkg:apk/alpine/musl@1.2.5-r0?arch=x86_64&distro=alpine-3.20.3', 'MIT'],
      ],
    );
    // Alpine advisories are keyed by origin: CVE-2024-5535 in openssl, fixed in 3.3.1-r1 on v3.20.
    const record = {
      id: 'ALPINE-CVE-2024-5535',
      modified: '2024-07-01T00:00:00Z',
      affected: [
        {
          package: { ecosystem: 'Alpine:v3.20', name: 'openssl' },
          ranges: [{ type: 'ECOSYSTEM' as const, events: [{ introduced: '0' }, { fixed: '3.3.1-r1' }] }],
        },
      ],
    };
    const found = matchPackages(new OsvDatabase([record]), packages);
    assert.deepEqual(
      found.map((f) => `${f.id} ${f.package.name} ${f.fixedVersion}`),
      ['ALPINE-CVE-2024-5535 libcrypto3 3.3.1-r1'],
    );
  });

  void it('dpkg: status.d paragraphs of distroless images, source with version, not-installed skipped', async () => {
    const tree = treeOf({
      '/etc/os-release': 'ID=debian\nVERSION_ID="12"\n',
      '/var/lib/dpkg/status.d/libssl3': 'Package: libssl3\nVersion: 3.0.11-1~deb12u2\nArchitecture: amd64\nSource: openssl\n',
      '/var/lib/dpkg/status.d/libssl3.md5sums': 'abc  usr/lib/x\n',
      '/var/lib/dpkg/status':
        'Package: bsdutils\nStatus: install ok installed\nVersion: 1:2.38.1-5+deb12u3\nArchitecture: amd64\nSource: util-linux (2.38.1-5+deb12u3)\n\nPackage: gone\nStatus: deinstall ok config-files\nVersion: 1.0\n',
    });
    const { packages } = await catalogImage({ tree, arch: 'amd64' });
    assert.deepEqual(
      packages.map((p) => [p.name, p.version, p.sourceName, p.sourceVersion, p.purl]),
      [
        [
          'bsdutils',
          '1:2.38.1-5+deb12u3',
          'util-linux',
          '2.38.1-5+deb12u3',
          'pkg:deb/debian/bsdutils@1:2.38.1-5%2Bdeb12u3?arch=amd64&distro=debian-12&upstream=util-linux%402.38.1-5%2Bdeb12u3',
        ],
        ['libssl3', '3.0.11-1~deb12u2', 'openssl', '3.0.11-1~deb12u2', 'pkg:deb/debian/libssl3@3.0.11-1~deb12u2?arch=amd64&distro=debian-12&upstream=openssl'],
      ],
    );
  });

  void it('npm: scoped packages and lockfile v2 entries that are not installed', async () => {
    const lock = {
      lockfileVersion: 2,
      packages: { '': { name: 'app' }, 'node_modules/@types/node': { version: '20.1.0' }, 'node_modules/left-pad': { version: '1.3.0' } },
    };
    const tree = treeOf({
      '/srv/package-lock.json': JSON.stringify(lock),
      '/srv/node_modules/@types/node/package.json': JSON.stringify({ name: '@types/node', version: '20.1.0' }),
    });
    const { packages } = await catalogImage({ tree, arch: 'amd64' });
    assert.deepEqual(
      packages.map((p) => [p.purl, p.location]),
      [
        ['pkg:npm/%40types/node@20.1.0', '/srv/node_modules/@types/node/package.json'],
        ['pkg:npm/left-pad@1.3.0', '/srv/package-lock.json'],
      ],
    );
  });

  void it('lists packages in the same order under every locale (code-unit order, not the collation LANG picks)', () => {
    const script = join(__dirname, '..', '..', 'support', 'catalog-order.ts');
    const under = (locale: string) => {
      const { stdout, stderr, status } = spawnSync(process.execPath, ['--import', 'tsx', script], {
        encoding: 'utf8',
        timeout: 60_000,
        env: { ...process.env, LANG: locale, LC_ALL: locale },
      });
      assert.equal(status, 0, stderr);
      return JSON.parse(stdout) as { locale: string; names: string[] };
    };
    // Lithuanian collation puts y between i and j; English puts asgiref before Django (and npm before PyPI).
    for (const [locale, expected] of [
      ['lt_LT.UTF-8', 'lt-LT'],
      ['en_US.UTF-8', 'en-US'],
    ]) {
      const out = under(locale!);
      assert.equal(out.locale, expected, 'the process took the locale (or the test proves nothing)');
      assert.deepEqual(out.names, ['Django', 'asgiref', 'iconv', 'jest', 'yaml'], locale);
    }
  });

  void it('python: dist-info and egg-info metadata, PEP 503 purl names', async () => {
    const tree = treeOf({
      '/usr/lib/python3/dist-packages/PyYAML-6.0.1.dist-info/METADATA': 'Metadata-Version: 2.1\nName: PyYAML\nVersion: 6.0.1\nLicense: MIT\n\nName: not-this\n',
      '/usr/lib/python3/dist-packages/zope.interface-5.5.2.egg-info/PKG-INFO': 'Metadata-Version: 1.2\nName: zope.interface\nVersion: 5.5.2\n',
    });
    const { packages } = await catalogImage({ tree, arch: 'amd64' });
    assert.deepEqual(
      packages.map((p) => p.purl),
      ['pkg:pypi/pyyaml@6.0.1', 'pkg:pypi/zope-interface@5.5.2'],
    );
  });
});

void describe('OS detection', () => {
  void it('maps os-release to OSV release ecosystems', () => {
    const release = (text: string) => osvRelease(detectOs(treeOf({ '/usr/lib/os-release': text })));
    assert.equal(release('ID=debian\nVERSION_ID="12"\n'), 'Debian:12');
    assert.equal(release('ID=ubuntu\nVERSION_ID="22.04"\nVERSION="22.04.4 LTS (Jammy Jellyfish)"\n'), 'Ubuntu:22.04:LTS');
    assert.equal(release('ID=ubuntu\nVERSION_ID="24.10"\nVERSION="24.10 (Oracular Oriole)"\n'), 'Ubuntu:24.10');
    assert.equal(release("ID=alpine\nVERSION_ID='3.20.3'\n"), 'Alpine:v3.20');
    assert.equal(release('ID=fedora\nVERSION_ID=40\n'), undefined);
  });
});

void describe('Go build info from a real binary', () => {
  const crane = resolve(__dirname, '../../../.tools/bin/crane');
  void it(
    'matches `go version -m` line for line',
    { skip: !existsSync(crane) || spawnSync('go', ['version']).status !== 0 ? 'needs go and .tools/bin/crane' : false },
    () => {
      const info = parseGoBuildInfo(readFileSync(crane));
      assert.ok(info);
      const lines = execFileSync('go', ['version', '-m', crane], { encoding: 'utf8' }).split('\n');
      assert.equal(info.goVersion, lines[0]!.split(': ')[1]);
      const expectDeps = lines.filter((l) => l.startsWith('\tdep\t')).map((l) => l.split('\t').slice(2, 4).join('@'));
      assert.deepEqual(
        info.deps.map((d) => `${d.path}@${d.version}`),
        expectDeps,
      );
      assert.equal(info.main?.path, lines.find((l) => l.startsWith('\tmod\t'))!.split('\t')[2]);
      assert.ok(expectDeps.length > 10);
    },
  );
  void it('returns nothing for ELF binaries without Go build info', () => {
    assert.equal(parseGoBuildInfo(readFileSync('/bin/busybox')), undefined);
  });
});

void describe('Java archives', () => {
  const dir = mkdtempSync(join(tmpdir(), 'jar-test-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  void it('reads pom.properties in a jar and in a jar nested in it', async () => {
    const script = [
      'import zipfile, io, sys',
      'inner = io.BytesIO()',
      'with zipfile.ZipFile(inner, "w") as z: z.writestr("META-INF/maven/org.yaml/snakeyaml/pom.properties", "#Generated\\nversion=1.33\\ngroupId=org.yaml\\nartifactId=snakeyaml\\n")',
      'with zipfile.ZipFile(sys.argv[1], "w") as z:',
      '  z.writestr("META-INF/maven/com.example/app/pom.properties", "groupId=com.example\\nartifactId=app\\nversion=1.0.0\\n")',
      '  z.writestr("BOOT-INF/lib/snakeyaml-1.33.jar", inner.getvalue())',
    ].join('\n');
    const jar = join(dir, 'app.jar');
    execFileSync('python3', ['-c', script, jar]);
    const found = await archiveCoordinates(readFileSync(jar));
    assert.deepEqual(found, [
      { groupId: 'com.example', artifactId: 'app', version: '1.0.0' },
      { groupId: 'org.yaml', artifactId: 'snakeyaml', version: '1.33' },
    ]);
  });
});
