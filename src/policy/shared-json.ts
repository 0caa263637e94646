/**
 * The JSON of a record's findings and violations, as JSON.stringify writes it, made from each item's
 * JSON remembered per item. Finding facts are shared by every image with the same finding
 * (findingFacts) and so are their violations (rememberedViolation, then tagged), and neither is ever
 * changed in place: a delta rescan's 402 new decisions in the rescan bench (about 500 findings and 150
 * violations each, mostly the same few thousand objects) stringified every one of them again, 0.4–0.6 s
 * of the worker's CPU. An item seen for the first time costs one JSON.stringify, as before.
 * Bounded: a rescan that records a new decision for most of a fleet (a matcher change) would otherwise
 * keep the JSON of every distinct finding and violation for as long as the match cache holds them
 * (hundreds of MB in the rescan bench). Past MAX_CHARS remembered (counted as added: the JSON of objects
 * collected since is not subtracted, so it starts over sooner rather than later), the memo starts over.
 */
import { heapBound } from '../scan';

/** Characters of JSON remembered at most: 2 % of the heap limit (a character of this JSON about a byte), at least 8 million. */
const MAX_CHARS = heapBound({ share: 0.02, entryBytes: 1, min: 8_000_000, max: Number.MAX_SAFE_INTEGER });

let jsonOf = new WeakMap<object, string>();
let remembered = 0;

/** JSON.stringify(items) for an array of plain objects that are never changed in place. */
export function sharedItemsJson(items: readonly object[]): string {
  if (items.length === 0) return '[]';
  const parts = new Array<string>(items.length);
  for (let i = 0; i < items.length; i++) {
    const item = items[i]!;
    let json = jsonOf.get(item);
    if (json === undefined) {
      json = JSON.stringify(item);
      if ((remembered += json.length) > MAX_CHARS) {
        jsonOf = new WeakMap();
        remembered = json.length;
      }
      jsonOf.set(item, json);
    }
    parts[i] = json;
  }
  return `[${parts.join(',')}]`;
}

/** How many characters of JSON the memo holds (for tests). */
export function sharedJsonRemembered(): { chars: number; max: number } {
  return { chars: remembered, max: MAX_CHARS };
}
