/**
 * A value remembered on an object itself, under a symbol of its own (not enumerable: JSON, spreads and
 * deep comparisons do not see it), where a WeakMap keyed by the object would otherwise hold it. Why: the
 * gate's memos are keyed by objects a fleet shares (findings, their facts, their violations), and a
 * rescan of 10,000 images looks each one up for every image holding it, millions of times. In a CPU
 * profile of `npm run bench -- rescan`, the lookups in WeakMaps of hundreds of thousands of objects cost
 * about 1–2 µs each (about 5 s of a full rescan); a property of the object is read in a few nanoseconds.
 * Only for objects never frozen, and never changed in place otherwise (the value must stay true of them).
 */
export class ObjectMemo<K extends object, V> {
  private readonly key: symbol;

  constructor(name: string) {
    this.key = Symbol(name);
  }

  get(o: K): V | undefined {
    return (o as Record<symbol, V | undefined>)[this.key];
  }

  set(o: K, value: V): V {
    Object.defineProperty(o, this.key, { value, writable: true, configurable: true, enumerable: false });
    return value;
  }
}
