/**
 * `${name}` templates of build rules (image tags, repositories): the ref pattern's named groups and
 * a few facts of the push. Unknown names are a configuration error, caught when the config loads.
 */
import { PLACEHOLDER } from '../config';

export function expandTemplate(template: string, values: Record<string, string>): string {
  return template.replace(PLACEHOLDER, (_all, name: string) => values[name] ?? '');
}

/**
 * A tag as registries accept it: [A-Za-z0-9_][A-Za-z0-9._-]{0,127}. Other characters (the `/` of
 * `feature/x`) become `-`, so a rule such as `${refName}` works for any branch name.
 */
export function sanitizeTag(value: string): string {
  const cleaned = value.replace(/[^A-Za-z0-9._-]/g, '-');
  const leading = /^[A-Za-z0-9_]/.test(cleaned) ? cleaned : `_${cleaned}`;
  return leading.slice(0, 128);
}

/** A repository path component as the distribution spec allows it: lowercase alphanumerics and separators. */
export function sanitizeRepositoryComponent(value: string): string {
  return value
    .toLowerCase()
    .replace(/[^a-z0-9._-]+/g, '-')
    .replace(/^[._-]+|[._-]+$/g, '')
    .replace(/[._-]{2,}/g, '-');
}
