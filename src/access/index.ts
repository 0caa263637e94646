/** API tokens and the RAM-style policies bound to them. */
export { ADMIN_POLICY, evaluateAccess, GLOBAL_RESOURCE, mayEverAllow, resourceOf } from './policy';
export { createTokenSchema, parsePolicies, TokenStore, tokenRecordSchema, type TokenInfo } from './tokens';
