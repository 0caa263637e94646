/**
 * A decision's findings and violations as the decision store keeps them: each item (a finding fact, a
 * violation) once, in one table of items named by their content, and each record's list of them as the
 * items' ids. Finding facts are shared by every image with the same finding (findingFacts), and so are
 * their violations (rememberedViolation, then tagged): a delta rescan's 402 new decisions in the rescan
 * bench (about 500 findings and 150 violations each, mostly the same few thousand items) wrote about
 * 230 KB of JSON a decision, made, joined and sent again each time, and kept once more in the
 * history. Named by id, a record's lists are about 30 KB, and an item is sent once.
 * An item's id is the SHA-256 of its JSON (as JSON.stringify writes it), base64url: a reader checks
 * every item it reads against its id, so the store's table holds one text per id or fails closed.
 * The JSON and id of each item are remembered per item object (items are never changed in place).
 * Bounded: a rescan that records a new decision for most of a fleet (a matcher change) would otherwise
 * keep the JSON of every distinct finding and violation for as long as the match cache holds them
 * (hundreds of MB in the rescan bench). Past MAX_CHARS remembered (counted as added: the JSON of objects
 * collected since is not subtracted, so it starts over sooner rather than later), the memo starts over.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { heapBound } from '../scan';

/** An item's JSON and its id in the store's table of items. */
export interface StoredItem {
  readonly id: string;
  readonly json: string;
  /** The last store's table of items known to hold it (DecisionStore's KnownItems): a write there names it rather than sending it. */
  heldBy?: object;
}

/** A list of items as a record stores it: their ids, in the list's order. */
export interface ItemList {
  /** The ids as a JSON array (what the record's part key holds). */
  idsJson: string;
  /** The items, in the list's order (an item listed twice is here twice). */
  items: StoredItem[];
}

/** An item's id: 43 base64url characters (a SHA-256). */
export const itemIdSchema = z.string().regex(/^[A-Za-z0-9_-]{43}$/, 'an item id (the base64url SHA-256 of the JSON of an item)');
export const itemIdsSchema = z.array(itemIdSchema);

/** Characters of JSON remembered at most: 2 % of the heap limit (a character of this JSON about a byte), at least 8 million. */
const MAX_CHARS = heapBound({ share: 0.02, entryBytes: 1, min: 8_000_000, max: Number.MAX_SAFE_INTEGER });

let memo = new WeakMap<object, StoredItem>();
let remembered = 0;

/** The id of an item whose JSON is `json`. */
export function itemIdOf(json: string): string {
  return createHash('sha256').update(json).digest('base64url');
}

/** The JSON and id of an item: a plain object that is never changed in place. */
export function storedItem(item: object): StoredItem {
  let stored = memo.get(item);
  if (stored === undefined) {
    const json = JSON.stringify(item);
    stored = { id: itemIdOf(json), json };
    if ((remembered += json.length) > MAX_CHARS) {
      memo = new WeakMap();
      remembered = json.length;
    }
    memo.set(item, stored);
  }
  return stored;
}

/** `items` as a record stores them. */
export function itemList(items: readonly object[]): ItemList {
  const stored = items.map(storedItem);
  // Ids are base64url: nothing in them to escape.
  return { idsJson: stored.length === 0 ? '[]' : `["${stored.map((s) => s.id).join('","')}"]`, items: stored };
}

/** How many characters of JSON the memo holds (for tests). */
export function storedItemsRemembered(): { chars: number; max: number } {
  return { chars: remembered, max: MAX_CHARS };
}
