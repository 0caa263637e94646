/** dpkg status (and distroless status.d) paragraphs. */
import { describe } from 'node:test';
import { catalogFiles, OS_RELEASE, wellFormed } from './catalog-support';
import { fuzzTarget, mutatedText } from './harness';

const STATUS = `Package: libc6
Status: install ok installed
Priority: optional
Architecture: amd64
Multi-Arch: same
Source: glibc (2.36-9+deb12u4)
Version: 2.36-9+deb12u4
Description: GNU C Library: Shared libraries
 Contains the standard libraries that are used by nearly all programs on
 the system.

Package: openssl
Status: deinstall ok config-files
Version: 3.0.11-1~deb12u2
Architecture: amd64

Package: zlib1g
Status: install ok installed
Source: zlib
Version: 1:1.2.13.dfsg-1
Architecture: amd64
`;

void describe('fuzz: dpkg cataloger', () => {
  fuzzTarget(
    'dpkg',
    mutatedText([STATUS, STATUS.replace(/Status: .*\n/g, ''), 'Package: x\nVersion: 1\n\n'.repeat(50)]),
    (text) => catalogFiles({ '/etc/os-release': OS_RELEASE.debian, '/var/lib/dpkg/status': text, '/var/lib/dpkg/status.d/base': text }),
    { runs: 200, check: wellFormed },
  );
});
