/** Python core metadata (dist-info METADATA, egg-info PKG-INFO) next to RECORD files. */
import { describe } from 'node:test';
import { catalogFiles, wellFormed } from './catalog-support';
import { fuzzTarget, mutatedText } from './harness';

const METADATA = `Metadata-Version: 2.1
Name: requests
Version: 2.31.0
Summary: Python HTTP for Humans.
License: Apache 2.0
Requires-Dist: charset-normalizer (<4,>=2)

Long description follows the blank line.
Name: not-a-header
`;
const RECORD = 'requests/__init__.py,sha256=abc,4965\nrequests-2.31.0.dist-info/METADATA,,\n../../etc/passwd,,\n';

void describe('fuzz: python cataloger', () => {
  fuzzTarget(
    'python',
    mutatedText([METADATA, METADATA.replace(/\n/g, '\r\n'), RECORD]),
    (text) =>
      catalogFiles({
        '/usr/lib/python3/site-packages/requests-2.31.0.dist-info/METADATA': text,
        '/usr/lib/python3/site-packages/requests-2.31.0.dist-info/RECORD': text,
        '/usr/lib/python3/site-packages/six.egg-info/PKG-INFO': text,
      }),
    { runs: 200, check: wellFormed },
  );
});
