/**
 * The JSON of a record's findings and violations, as JSON.stringify writes it, made from each item's
 * JSON remembered per item. Finding facts are shared by every image with the same finding
 * (findingFacts) and so are their violations (rememberedViolation, then tagged), and neither is ever
 * changed in place: a delta rescan's 402 new decisions in the rescan bench (about 500 findings and 150
 * violations each, mostly the same few thousand objects) stringified every one of them again, 0.4–0.6 s
 * of the worker's CPU. An item seen for the first time costs one JSON.stringify, as before.
 */
const jsonOf = new WeakMap<object, string>();

/** JSON.stringify(items) for an array of plain objects that are never changed in place. */
export function sharedItemsJson(items: readonly object[]): string {
  if (items.length === 0) return '[]';
  const parts = new Array<string>(items.length);
  for (let i = 0; i < items.length; i++) {
    const item = items[i]!;
    let json = jsonOf.get(item);
    if (json === undefined) jsonOf.set(item, (json = JSON.stringify(item)));
    parts[i] = json;
  }
  return `[${parts.join(',')}]`;
}
