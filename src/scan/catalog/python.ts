/** Python distributions from *.dist-info/METADATA and *.egg-info/PKG-INFO (core metadata headers). */
import { type Package } from '../types';
import { pypiPurl } from './purl';
import { type Cataloger } from './types';

const METADATA = /\.dist-info\/METADATA$|\.egg-info\/PKG-INFO$|\.egg-info$/;

function headers(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    if (line.trim() === '') break; // the body (long description) follows the first blank line
    const m = /^([A-Za-z0-9-]+):\s*(.*)$/.exec(line);
    if (m && out[m[1]!] === undefined) out[m[1]!] = m[2]!.trim();
  }
  return out;
}

export const pythonCataloger: Cataloger = {
  name: 'python',
  policy: { keep: (path, size) => METADATA.test(path) && size < 8 * 1024 * 1024, inspectors: [] },
  catalog(ctx) {
    const out: Package[] = [];
    for (const node of ctx.tree.files()) {
      if (node.type !== 'file' || !node.content || !METADATA.test(node.path)) continue;
      const h = headers(node.content.toString('utf8'));
      if (!h.Name || !h.Version) continue;
      out.push({
        name: h.Name,
        version: h.Version,
        ecosystem: 'PyPI',
        purl: pypiPurl(h.Name, h.Version),
        layer: node.layer,
        location: node.path,
        ...(h.License && h.License !== 'UNKNOWN' ? { licenses: [h.License] } : {}),
      });
    }
    return out;
  },
};
