/** Words for people and names for constructs, in one place. */

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
