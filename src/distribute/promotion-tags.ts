import { ChainError } from '../errors';

/**
 * Expands configured promotion tags: `{date}` becomes the chain's date (UTC, yyyymmdd) so a tag such as
 * `prod-{date}` is the same on every retry of the same run. The result must be a valid OCI tag.
 */
export function expandPromotionTags(templates: readonly string[], at: Date): string[] {
  const date = at.toISOString().slice(0, 10).replace(/-/g, '');
  return templates.map((template) => {
    const tag = template.replace(/\{date\}/g, date);
    if (!/^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/.test(tag)) {
      throw new ChainError('BAD_INPUT', `promotion tag "${template}" expands to "${tag}", which is not a valid tag`);
    }
    return tag;
  });
}
