/**
 * Helpers that know nothing of Kubernetes: JSON values as they travel on the wire (compared and
 * diffed with key order ignored), JSON patch paths, and a bounded poll. The adapters compare what
 * they read with what they want through these, so every write happens only when something differs.
 */

/** Plain JSON object (what a template looks like on the wire). */
export type PlainObject = Record<string, unknown>;

/** The wire form of a typed client object: dates as strings, no undefined fields. */
export function toPlain(value: unknown): PlainObject {
  return JSON.parse(JSON.stringify(value ?? {})) as PlainObject;
}

/** Structural equality of JSON values (key order ignored, undefined fields absent). */
export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    return a.every((v, i) => deepEqual(v, b[i]));
  }
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') return false;
  const ka = Object.keys(a as object).filter((k) => (a as PlainObject)[k] !== undefined);
  const kb = Object.keys(b as object).filter((k) => (b as PlainObject)[k] !== undefined);
  if (ka.length !== kb.length) return false;
  return ka.every((k) => deepEqual((a as PlainObject)[k], (b as PlainObject)[k]));
}

/** Paths where two JSON values differ, e.g. `spec.containers[0].image`; at most `limit`. */
export function diffPaths(
  expected: unknown,
  actual: unknown,
  path = '',
  limit = 20,
  out: string[] = [],
): string[] {
  if (out.length >= limit || deepEqual(expected, actual)) return out;
  const bothObjects =
    expected !== null &&
    actual !== null &&
    typeof expected === 'object' &&
    typeof actual === 'object' &&
    Array.isArray(expected) === Array.isArray(actual);
  if (!bothObjects) {
    out.push(path || '(root)');
    return out;
  }
  if (Array.isArray(expected) && Array.isArray(actual)) {
    if (expected.length !== actual.length) {
      out.push(`${path} (length ${expected.length} -> ${actual.length})`);
      return out;
    }
    expected.forEach((v, i) => {
      diffPaths(v, actual[i], `${path}[${i}]`, limit, out);
    });
    return out;
  }
  const keys = new Set([...Object.keys(expected as object), ...Object.keys(actual as object)]);
  for (const k of [...keys].sort()) {
    diffPaths(
      (expected as PlainObject)[k],
      (actual as PlainObject)[k],
      path ? `${path}.${k}` : k,
      limit,
      out,
    );
  }
  return out;
}

/** RFC 6901: `~` -> `~0`, `/` -> `~1`, for a map key in a JSON patch path. */
export function jsonPointerToken(key: string): string {
  return key.replace(/~/g, '~0').replace(/\//g, '~1');
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `probe` until it reports done or `timeoutMs` passes; returns the last value either way. */
export async function pollUntil<T>(
  timeoutMs: number,
  pollMs: number,
  probe: () => Promise<{ done: boolean; value: T }>,
): Promise<{ done: boolean; value: T }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await probe();
    if (r.done || Date.now() >= deadline) return r;
    await sleep(Math.min(pollMs, Math.max(0, deadline - Date.now())));
  }
}
