/** Java archives: zip structure, pom.properties, nested jars (Spring Boot fat jars), written by python3's zipfile. */
import { execFileSync } from 'node:child_process';
import { describe } from 'node:test';
import { archiveCoordinates, parseProperties } from '../../src/scan/catalog/java';
import { catalogFiles, wellFormed } from './catalog-support';
import { fc, fuzzTarget, mutated } from './harness';

function jarSeeds(): Buffer[] {
  const script = [
    'import zipfile, io, sys',
    'def jar(entries, method=zipfile.ZIP_DEFLATED):',
    '  b = io.BytesIO()',
    '  with zipfile.ZipFile(b, "w", method) as z:',
    '    for n, c in entries: z.writestr(n, c)',
    '  return b.getvalue()',
    'inner = jar([("META-INF/maven/org.yaml/snakeyaml/pom.properties", "#Generated\\nversion=1.33\\ngroupId=org.yaml\\nartifactId=snakeyaml\\n")])',
    'outer = jar([("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\\r\\nMain-Class: app.Main\\r\\n"), ("META-INF/maven/com.example/app/pom.properties", "groupId=com.example\\nartifactId=app\\nversion=1.0.0\\n"), ("BOOT-INF/lib/snakeyaml-1.33.jar", inner)])',
    'stored = jar([("META-INF/maven/a/b/pom.properties", "groupId=a\\nartifactId=b\\nversion=2\\n"), ("lib/inner.jar", inner)], zipfile.ZIP_STORED)',
    'sys.stdout.buffer.write(b"".join(len(x).to_bytes(4, "big") + x for x in [inner, outer, stored]))',
  ].join('\n');
  const all = execFileSync('python3', ['-c', script]);
  const out: Buffer[] = [];
  for (let at = 0; at < all.length;) {
    const n = all.readUInt32BE(at);
    out.push(all.subarray(at + 4, at + 4 + n));
    at += 4 + n;
  }
  return out;
}

void describe('fuzz: Java archives', () => {
  const seeds = jarSeeds();
  fuzzTarget(
    'java',
    mutated(seeds, 6),
    async (jar) => {
      const found = await archiveCoordinates(jar);
      for (const c of found) wellFormed([{ name: `${c.groupId}:${c.artifactId}`, version: c.version, purl: 'x', ecosystem: 'Maven', layer: '', location: '' }]);
      return found;
    },
    { runs: 200 },
  );
  fuzzTarget(
    'java-properties',
    fc.string({ maxLength: 2000 }),
    (text) => catalogFiles({ '/app/META-INF/maven/g/a/pom.properties': text, '/app/x.properties': parseProperties(text).version ?? '' }),
    { runs: 200, check: wellFormed },
  );
});
