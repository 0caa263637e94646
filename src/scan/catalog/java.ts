/** Java archives: META-INF/maven/<group>/<artifact>/pom.properties inside jars (nested once) or on disk. */
import type yauzl from 'yauzl';
import { type Package } from '../types';
import { mavenPurl } from './purl';
import { type Cataloger } from './types';

const FACT = 'maven';
const ARCHIVE = /\.(jar|war|ear)$/i;
const POM_PROPERTIES = /META-INF\/maven\/[^/]+\/[^/]+\/pom\.properties$/;
const MAX_NESTED_BYTES = 64 * 1024 * 1024;

export interface MavenCoordinates {
  groupId: string;
  artifactId: string;
  version: string;
}

export function parseProperties(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (!line || line.startsWith('#') || line.startsWith('!')) continue;
    const m = /^([^=:\s]+)\s*[=:\s]\s*(.*)$/.exec(line);
    if (m) out[m[1]!] = m[2]!;
  }
  return out;
}

function coordinates(text: string): MavenCoordinates | undefined {
  const p = parseProperties(text);
  return p.groupId && p.artifactId && p.version ? { groupId: p.groupId, artifactId: p.artifactId, version: p.version } : undefined;
}

async function readEntry(zip: yauzl.ZipFile, entry: yauzl.Entry): Promise<Buffer> {
  const stream = await zip.openReadStreamPromise(entry);
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** Coordinates found in an archive and in the jars nested in it (one level, as in Spring Boot fat jars). */
export async function archiveCoordinates(content: Buffer, depth = 0): Promise<MavenCoordinates[]> {
  const found: MavenCoordinates[] = [];
  let zip: yauzl.ZipFile;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded when an image holds an archive, not on every scan's start-up
    zip = await (require('yauzl') as typeof yauzl).fromBufferPromise(content, { lazyEntries: true });
  } catch {
    return found; // not a zip after all
  }
  try {
    for await (const entry of zip.eachEntry()) {
      if (POM_PROPERTIES.test(entry.fileName) && entry.uncompressedSize < 1024 * 1024) {
        const c = coordinates((await readEntry(zip, entry)).toString('utf8'));
        if (c) found.push(c);
      } else if (depth === 0 && ARCHIVE.test(entry.fileName) && entry.uncompressedSize < MAX_NESTED_BYTES) {
        found.push(...(await archiveCoordinates(await readEntry(zip, entry), depth + 1)));
      }
    }
  } catch {
    // A truncated or corrupt archive yields what was read before the damage.
  } finally {
    zip.close();
  }
  return found;
}

export const javaCataloger: Cataloger = {
  name: 'java',
  policy: {
    keep: (path, size) => POM_PROPERTIES.test(path) && size < 1024 * 1024,
    inspectors: [
      {
        name: FACT,
        candidate: (path) => ARCHIVE.test(path),
        accepts: (head) => head[0] === 0x50 && head[1] === 0x4b,
        inspect: async (_path, content) => {
          const found = await archiveCoordinates(content);
          return found.length > 0 ? found : undefined;
        },
      },
    ],
  },
  catalog(ctx) {
    const out: Package[] = [];
    const add = (c: MavenCoordinates, layer: string, location: string) =>
      out.push({
        name: `${c.groupId}:${c.artifactId}`,
        version: c.version,
        ecosystem: 'Maven',
        purl: mavenPurl(c.groupId, c.artifactId, c.version),
        layer,
        location,
      });
    for (const node of ctx.tree.files()) {
      const inArchive = node.facts?.[FACT] as MavenCoordinates[] | undefined;
      for (const c of inArchive ?? []) add(c, node.layer, node.path);
      if (node.content && POM_PROPERTIES.test(node.path)) {
        const c = coordinates(node.content.toString('utf8'));
        if (c) add(c, node.layer, node.path);
      }
    }
    return out;
  },
};
