/** Alpine's installed database. */
import { describe } from 'node:test';
import { catalogFiles, OS_RELEASE, wellFormed } from './catalog-support';
import { fuzzTarget, mutatedText } from './harness';

const DB = `C:Q1abc=
P:musl
V:1.2.5-r0
A:x86_64
L:MIT
o:musl
F:lib
R:ld-musl-x86_64.so.1

C:Q1def=
P:busybox
V:1.36.1-r15
A:x86_64
o:busybox
`;

void describe('fuzz: apk cataloger', () => {
  fuzzTarget(
    'apk',
    mutatedText([DB, DB.replace(/\n/g, '\r\n'), `P:${'x'.repeat(5000)}\nV:1\n`]),
    (text) => catalogFiles({ '/etc/os-release': OS_RELEASE.alpine, '/lib/apk/db/installed': text }),
    {
      runs: 200,
      check: wellFormed,
    },
  );
});
