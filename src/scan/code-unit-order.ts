/**
 * Strings in code-unit order, the same on every machine. localeCompare collates by the process's locale (LANG,
 * LC_ALL): under lt_LT `yaml` sorts before `iconv`, under en_US `asgiref` before `Django`, so a scan's package
 * list, its SBOM and its sources came out in another order on another machine. Its first call also sets up ICU's
 * collator, 5–9 ms of every scan's start-up.
 */
export const byCodeUnits = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
