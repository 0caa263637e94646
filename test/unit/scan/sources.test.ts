import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { apkRepositories, aptDeb822Uris, aptListUris } from '../../../src/scan/catalog/sources';

void describe('package source files', () => {
  void it('one-line apt sources: options, deb-src, comments', () => {
    const text = '# comment\ndeb http://deb.debian.org/debian bookworm main\ndeb [arch=amd64 signed-by=/usr/share/keyrings/x.gpg] https://download.example.com/apt stable main # tail\ndeb-src http://deb.debian.org/debian bookworm main\n#deb http://old.example/debian buster main\n';
    assert.deepEqual(aptListUris(text), ['http://deb.debian.org/debian', 'https://download.example.com/apt', 'http://deb.debian.org/debian']);
  });

  void it('deb822 .sources: several URIs, continuation lines, disabled stanzas', () => {
    const text = 'Types: deb deb-src\nURIs: http://deb.debian.org/debian\n https://mirror.example.org/debian\nSuites: bookworm\nComponents: main\n\nEnabled: no\nTypes: deb\nURIs: http://off.example/debian\nSuites: bookworm\n\n# Types: deb\n# URIs: http://commented.example/debian\n';
    assert.deepEqual(aptDeb822Uris(text), ['http://deb.debian.org/debian', 'https://mirror.example.org/debian']);
  });

  void it('apk repositories, tagged and commented', () => {
    assert.deepEqual(apkRepositories('https://dl-cdn.alpinelinux.org/alpine/v3.20/main\n#https://x/community\n@edge https://dl-cdn.alpinelinux.org/alpine/edge/testing\n\n'), [
      'https://dl-cdn.alpinelinux.org/alpine/v3.20/main',
      'https://dl-cdn.alpinelinux.org/alpine/edge/testing',
    ]);
  });
});
