/** Words for people, names for constructs and the hashes that keep derived names apart, in one place. */
import { createHash } from 'node:crypto';

/** `canary` -> `Canary`. */
export function capitalise(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

/**
 * `api` -> `Api`, `web-frontend` -> `WebFrontend`, `prod-eks_1` -> `ProdEks1`, `validateInput` ->
 * `ValidateInput`: a stable PascalCase construct ID from a name (changing a construct ID replaces
 * the resource, so this rule never changes).
 */
export function pascalCase(name: string): string {
  return name
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean)
    .map(capitalise)
    .join('');
}

/**
 * A short digest of `text` (hex of SHA-256): appended to a name derived from an id whenever the
 * derivation had to change the id (case, characters, length), so two ids never share the name.
 */
export function digest(text: string, length = 10): string {
  return createHash('sha256').update(text, 'utf8').digest('hex').slice(0, length);
}
