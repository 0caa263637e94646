export { OsvDatabase, normalizePackageName, type OsvDatabaseInfo } from './database';
export { DEFAULT_OSV_BASE_URL, downloadEcosystem } from './download';
export { countBySeverity, matchPackage, matchPackages, queriesFor } from './findings';
export { importDirectory, importZip, type ImportResult } from './importer';
export { affectedEntryMatches, rangeAffects } from './match';
export { osvRecordSchema, type OsvRecord } from './schema';
export { cvssBaseScore, recordSeverity, severityOfScore } from './severity';
export { OsvSource, type OsvSourceOptions } from './source';
