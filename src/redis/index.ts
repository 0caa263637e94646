/** The public surface of src/redis. */
export { watchRedis } from './connection-state';
export { type LuaScript, luaScriptFile, runLuaScript } from './lua-script';
export { perConnection } from './per-connection';
