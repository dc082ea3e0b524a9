import { z } from 'zod';

/**
 * A container image reference with an explicit tag or digest (distribution reference grammar).
 * Registries with ports (`registry.local:5000/api:v2`) and digests (`api@sha256:...`) are valid;
 * an image without tag or digest is refused, because a release must name a version.
 */
const IMAGE_RE =
  /^(?:(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*(?::[0-9]+)?\/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*(?::([\w][\w.-]{0,127}))?(?:@([A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}))?$/;

export const imageRef = z
  .string()
  .max(512)
  .refine((s) => {
    const m = IMAGE_RE.exec(s);
    return m !== null && (m[1] !== undefined || m[2] !== undefined);
  }, 'must be an image reference with a tag or digest, e.g. 123456789012.dkr.ecr.us-east-1.amazonaws.com/api:v2.1.0');

/** The version label of an image: its tag, else the digest's first 12 hex characters. */
export function imageVersion(image: string): string {
  const m = IMAGE_RE.exec(image);
  if (m?.[1]) return m[1];
  if (m?.[2]) return m[2].split(':')[1]!.slice(0, 12);
  return image;
}
