/** The control API's audit trail. */
export { AuditLog, auditEntrySchema, type AuditEntry } from './log';
