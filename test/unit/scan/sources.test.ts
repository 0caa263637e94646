import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FileTree } from '../../../src/scan/fs/tree';
import { apkRepositories, aptDeb822Uris, aptListUris, catalogSources } from '../../../src/scan/catalog/sources';

void describe('package source files', () => {
  void it('one-line apt sources: options, deb-src, comments', () => {
    const text =
      '# comment\ndeb http://deb.debian.org/debian bookworm main\ndeb [arch=amd64 signed-by=/usr/share/keyrings/x.gpg] https://download.example.com/apt stable main # tail\ndeb-src http://deb.debian.org/debian bookworm main\n#deb http://old.example/debian buster main\n';
    assert.deepEqual(aptListUris(text), ['http://deb.debian.org/debian', 'https://download.example.com/apt', 'http://deb.debian.org/debian']);
  });

  void it('deb822 .sources: several URIs, continuation lines, disabled stanzas', () => {
    const text =
      'Types: deb deb-src\nURIs: http://deb.debian.org/debian\n https://mirror.example.org/debian\nSuites: bookworm\nComponents: main\n\nEnabled: no\nTypes: deb\nURIs: http://off.example/debian\nSuites: bookworm\n\n# Types: deb\n# URIs: http://commented.example/debian\n';
    assert.deepEqual(aptDeb822Uris(text), ['http://deb.debian.org/debian', 'https://mirror.example.org/debian']);
  });

  void it('apk repositories, tagged and commented', () => {
    assert.deepEqual(
      apkRepositories('https://dl-cdn.alpinelinux.org/alpine/v3.20/main\n#https://x/community\n@edge https://dl-cdn.alpinelinux.org/alpine/edge/testing\n\n'),
      ['https://dl-cdn.alpinelinux.org/alpine/v3.20/main', 'https://dl-cdn.alpinelinux.org/alpine/edge/testing'],
    );
  });

  void it('per-package origins: npm lockfile v1 and v3 resolved URLs, pip direct_url.json', () => {
    const tree = new FileTree();
    const file = (path: string, text: string) => ({
      path,
      type: 'file' as const,
      mode: 0o644,
      uid: 0,
      gid: 0,
      size: text.length,
      layerIndex: 0,
      layer: 'sha256:00',
      content: Buffer.from(text),
    });
    tree.apply({
      index: 0,
      digest: 'sha256:00',
      whiteouts: [],
      opaqueDirs: [],
      entries: [
        file(
          '/srv/a/package-lock.json',
          JSON.stringify({
            lockfileVersion: 3,
            packages: {
              '': { name: 'a' },
              'node_modules/x': { version: '1.0.0', resolved: 'https://npm.example.com/x/-/x-1.0.0.tgz' },
              'node_modules/local': { resolved: 'packages/local', link: true },
            },
          }),
        ),
        file(
          '/srv/b/package-lock.json',
          JSON.stringify({
            lockfileVersion: 1,
            dependencies: {
              y: {
                version: '2.0.0',
                resolved: 'https://registry.npmjs.org/y/-/y-2.0.0.tgz',
                dependencies: { z: { version: '3.0.0', resolved: 'git+ssh://git@github.com/z/z.git#abc' } },
              },
            },
          }),
        ),
        file(
          '/usr/lib/python3/site-packages/tool-1.2.dist-info/direct_url.json',
          JSON.stringify({ url: 'git+https://git.example.com/tool.git', vcs_info: { vcs: 'git', commit_id: 'abc' } }),
        ),
      ],
    });
    assert.deepEqual(
      catalogSources(tree).map((s) => [s.ecosystem, s.package, s.version, s.url]),
      [
        ['npm', 'x', '1.0.0', 'https://npm.example.com/x/-/x-1.0.0.tgz'],
        ['npm', 'y', '2.0.0', 'https://registry.npmjs.org/y/-/y-2.0.0.tgz'],
        ['npm', 'z', '3.0.0', 'git+ssh://git@github.com/z/z.git#abc'],
        ['pypi', 'tool', '1.2', 'git+https://git.example.com/tool.git'],
      ],
    );
  });
});
