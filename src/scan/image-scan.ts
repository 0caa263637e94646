/**
 * The scanner's surface for scanning one image (the `dchain scan` command), narrower than index.ts: index.ts also
 * re-exports the fleet, rescan and VEX modules, whose zod schemas are built when the bundle loads, and a command
 * that scans one image would build them at every start for nothing.
 */
export { type Finding, SEVERITIES, type Severity } from './types';
export { scanImage, type ScanResult } from './scan-image';
export { type LayerProgress } from './image/load';
export { type ImageSource } from './image/source';
export { openLocalImage, parseImageInput } from './image/local-sources';
export { OsvSource } from './osv';
export { osvSourceFromConfig } from './osv/from-config';
export { warmOsvRecordSchema } from './osv/schema';
export { toSarif } from './report/sarif';
export { MemorySbomStore } from './sbom/store';
