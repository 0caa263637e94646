/** `dchain access check <token> <action> <resource>`: which statement decides (see tokens.ts). */
export { registerAccess as register } from './tokens';
