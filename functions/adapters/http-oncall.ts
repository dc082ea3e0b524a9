import { OnCallLookupError } from '../domain/errors.js';
import type { OnCallAnswer, OnCallDirectory } from '../ports/on-call.js';

/**
 * Asks an HTTP endpoint who is on call (the on-call gate). The endpoint answers a GET with
 * status 200 and JSON `{ "onCall": ["alice", "bob"] }`; `onCall` may also be one name, or a list
 * of objects with a `name`. An empty list means nobody is on call. Anything else (another status,
 * not JSON, no `onCall`, a timeout) throws, and the gate fails with the reason.
 *
 * The same class runs in Lambda and locally (Node's fetch); a Lambda in a VPC needs a route to
 * the endpoint.
 */
export class HttpOnCallDirectory implements OnCallDirectory {
  constructor(private readonly fetchImpl: typeof fetch = fetch) {}

  async whoIsOnCall(endpoint: {
    readonly url: string;
    readonly timeoutSeconds: number;
  }): Promise<OnCallAnswer> {
    let res: Response;
    try {
      res = await this.fetchImpl(endpoint.url, {
        method: 'GET',
        headers: { accept: 'application/json' },
        signal: AbortSignal.timeout(endpoint.timeoutSeconds * 1000),
      });
    } catch (e) {
      const err = e as Error;
      const why = err.name === 'TimeoutError' ? `no answer within ${endpoint.timeoutSeconds} s` : err.message;
      throw new OnCallLookupError(`on-call endpoint ${endpoint.url}: ${why}`, { cause: e });
    }
    const source = `${endpoint.url} (HTTP ${res.status})`;
    const text = await res.text();
    if (res.status !== 200) throw new OnCallLookupError(`on-call endpoint ${source}: ${text.slice(0, 200)}`);
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch (e) {
      throw new OnCallLookupError(`on-call endpoint ${source} did not answer JSON: ${text.slice(0, 200)}`, {
        cause: e,
      });
    }
    return { onCall: namesOf(body, source), source };
  }
}

/** The names of an answer `{ onCall: ... }`; throws on any other shape. */
export function namesOf(body: unknown, source: string): string[] {
  const raw = (body as { onCall?: unknown } | null)?.onCall;
  const list = typeof raw === 'string' ? [raw] : Array.isArray(raw) ? raw : null;
  if (list === null)
    throw new OnCallLookupError(`on-call endpoint ${source}: the answer has no "onCall" list`);
  const names: string[] = [];
  for (const item of list) {
    const name =
      typeof item === 'string'
        ? item
        : typeof (item as { name?: unknown })?.name === 'string'
          ? (item as { name: string }).name
          : null;
    if (name === null)
      throw new OnCallLookupError(
        `on-call endpoint ${source}: "onCall" holds ${JSON.stringify(item)}, not a name`,
      );
    if (name.trim()) names.push(name.trim());
  }
  return names;
}
