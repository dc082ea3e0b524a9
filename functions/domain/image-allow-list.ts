/**
 * Which images a service's test and migration Jobs may run: the catalog's `jobs.allowedImages`.
 *
 * Invariant: an image is allowed only when its repository, registry host included, is one the
 * catalog names. Matching is by whole path segments, never by string prefix, so an entry
 * `registry.example.com/shop/**` does not allow `registry.example.com/shop-evil/x` or
 * `registry.example.com.evil.io/shop/x`. An image written without a registry host is Docker Hub's
 * (`nginx:1` is `docker.io/library/nginx`), and an entry must name its registry host, so a short
 * name can never match by accident.
 *
 * An entry is one of:
 * - `host/path`: exactly that repository (any tag or digest);
 * - `host/path/*`: any repository one level under `host/path`;
 * - `host/path/**` (or `host/**`): any repository at any depth under it.
 */
import { z } from 'zod';

/** A path component of a repository (distribution reference grammar). */
const COMPONENT = '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*';
/** A registry host: a domain with a dot or a port, or `localhost`. */
const HOST = '(?:localhost|[a-zA-Z0-9-]+(?:\\.[a-zA-Z0-9-]+)+|[a-zA-Z0-9-]+(?:\\.[a-zA-Z0-9-]+)*:[0-9]+)';
const ENTRY_RE = new RegExp(`^(${HOST})((?:/${COMPONENT})*)(/\\*\\*|/\\*)?$`);

/** One entry of `jobs.allowedImages`. */
export const allowedImageEntry = z
  .string()
  .max(512)
  .refine((s) => {
    const m = ENTRY_RE.exec(s);
    // A bare host allows nothing by itself; `host/**` is the way to allow a whole registry.
    return m !== null && (m[2] !== '' || m[3] === '/**');
  }, 'must be a repository with its registry host and no tag or digest, optionally ending in /* (one level below) or /** (any depth below), e.g. 123456789012.dkr.ecr.us-east-1.amazonaws.com/shop/**');

/**
 * The repository of an image reference, registry host first and lowercased (pure): the tag and
 * digest dropped; Docker Hub's host and `library/` filled in when the image names no host.
 */
export function imageRepository(image: string): string {
  const noDigest = image.split('@')[0] ?? image;
  const slash = noDigest.lastIndexOf('/');
  const colon = noDigest.lastIndexOf(':');
  const repo = colon > slash ? noDigest.slice(0, colon) : noDigest;
  const [first, ...rest] = repo.split('/');
  const isHost = rest.length > 0 && first !== undefined && /[.:]|^localhost$/.test(first);
  if (isHost) return `${first.toLowerCase()}/${rest.join('/')}`;
  return rest.length === 0 ? `docker.io/library/${repo}` : `docker.io/${repo}`;
}

/** Whether `image`'s repository matches one entry (pure). */
export function imageMatches(image: string, entry: string): boolean {
  const repo = imageRepository(image);
  const m = ENTRY_RE.exec(entry);
  if (!m) return false;
  const base = `${m[1]!.toLowerCase()}${m[2]}`;
  if (m[3] === undefined) return repo === base;
  if (!repo.startsWith(`${base}/`)) return false;
  const below = repo.slice(base.length + 1);
  return below.length > 0 && (m[3] === '/**' || !below.includes('/'));
}

/** Whether `image` matches any entry of the allow-list (pure; an empty list allows nothing). */
export function imageAllowed(image: string, allowed: readonly string[]): boolean {
  return allowed.some((entry) => imageMatches(image, entry));
}
