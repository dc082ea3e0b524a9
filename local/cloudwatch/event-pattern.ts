/**
 * EventBridge content filtering, the subset the stack's rules use (Amazon EventBridge user guide,
 * "Event pattern syntax" and "Arrays in Amazon EventBridge event patterns"):
 *
 * - a pattern is an object whose fields name fields of the event, nested as in the event; every
 *   field of the pattern must be in the event (fields of the event not in the pattern are ignored);
 * - a field's value is an array of values: the event's value must equal one of them exactly (JSON
 *   equality: "10" is not 10); when the event's value is itself an array, the pattern matches if
 *   the two arrays share a value;
 * - an object value matches the event's object at that field by the same rules.
 *
 * The other filters (prefix, suffix, anything-but, numeric, exists, cidr, wildcard, equals-ignore-
 * case, $or) are refused by {@link checkPattern}, so a rule that uses them cannot silently match
 * nothing or everything locally.
 */

type Scalar = string | number | boolean | null;

/** A pattern outside the supported subset; `issues` names every field. */
export class EventPatternError extends Error {
  override readonly name = 'EventPatternError';
  constructor(readonly issues: readonly string[]) {
    super(`event pattern not supported locally: ${issues.join('; ')}`);
  }
}

/** Throws {@link EventPatternError} naming every field of `pattern` outside the supported subset. */
export function checkPattern(pattern: unknown): void {
  const issues: string[] = [];
  const walk = (p: unknown, path: string) => {
    if (p === null || typeof p !== 'object' || Array.isArray(p)) {
      issues.push(`${path || '(pattern)'} must be an object`);
      return;
    }
    const entries = Object.entries(p);
    if (entries.length === 0) issues.push(`${path || '(pattern)'} is empty`);
    for (const [key, value] of entries) {
      const at = path ? `${path}.${key}` : key;
      if (key.startsWith('$')) issues.push(`${at}: ${key} is not supported locally`);
      else if (Array.isArray(value)) {
        if (value.length === 0) issues.push(`${at} is an empty list (matches nothing)`);
        value.forEach((v, i) => {
          if (v !== null && typeof v === 'object') {
            issues.push(
              `${at}.${i}: the content filter ${JSON.stringify(v)} is not supported locally (exact values only)`,
            );
          }
        });
      } else if (value !== null && typeof value === 'object') walk(value, at);
      else issues.push(`${at} must be a list of values or an object (got ${JSON.stringify(value)})`);
    }
  };
  walk(pattern, '');
  if (issues.length > 0) throw new EventPatternError(issues);
}

/** Whether `event` matches `pattern` (checked with {@link checkPattern} first). */
export function matchesPattern(pattern: unknown, event: unknown): boolean {
  checkPattern(pattern);
  return matches(pattern as Record<string, unknown>, event);
}

function matches(pattern: Record<string, unknown>, event: unknown): boolean {
  if (event === null || typeof event !== 'object' || Array.isArray(event)) return false;
  const e = event as Record<string, unknown>;
  for (const [key, want] of Object.entries(pattern)) {
    if (!Object.hasOwn(e, key)) return false;
    const got = e[key];
    if (Array.isArray(want)) {
      const values = (Array.isArray(got) ? got : [got]) as unknown[];
      if (!values.some((v) => (want as Scalar[]).some((w) => w === v))) return false;
    } else if (!matches(want as Record<string, unknown>, got)) return false;
  }
  return true;
}
