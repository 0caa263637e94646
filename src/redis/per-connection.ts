import { type Redis } from 'ioredis';

/**
 * One object per Redis connection and key, made on first use: what a process learns of the data under
 * a key (which decision items it holds, the package table's packages) is shared by every store of that
 * connection, and let go with the connection. `forget` drops it: the next `of` makes a new one.
 */
export function perConnection<T>(make: (redis: Redis, key: string) => T) {
  const byConnection = new WeakMap<Redis, Map<string, T>>();
  return {
    of(redis: Redis, key: string): T {
      let byKey = byConnection.get(redis);
      if (!byKey) byConnection.set(redis, (byKey = new Map()));
      let made = byKey.get(key);
      if (made === undefined) byKey.set(key, (made = make(redis, key)));
      return made;
    },
    forget(redis: Redis, key: string): void {
      byConnection.get(redis)?.delete(key);
    },
  };
}
