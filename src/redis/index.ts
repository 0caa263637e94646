/** The public surface of src/redis. */
export { watchRedis } from './connection-state';
export { luaScriptFile, runLuaScript } from './lua-script';
