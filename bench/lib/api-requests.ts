/**
 * Counting Kubernetes API requests two ways.
 *
 * - Client side, exact: @kubernetes/client-node sends through undici, which publishes every
 *   request on the `undici:request:create` diagnostics channel; requests to the API server's
 *   origin are counted by method and resource. In a benchmark process only the functions' client
 *   (the restricted identity) talks to the API server while counting, so this is that identity's
 *   count.
 * - Server side: `apiserver_request_total` from the API server's /metrics (admin kubeconfig), a
 *   delta over the run. The metric has no user label, so it counts every identity: the controllers
 *   and KWOK reacting to the releases too.
 */
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { runKubectl } from './kubectl.js';

/** Requests one process sent to one API server, by `METHOD resource`. */
export class ClientRequestCounter {
  readonly byKind: Record<string, number> = {};
  /** Requests by the key `attribute` found in the path and query (e.g. the service), when given. */
  readonly byKey: Record<string, number> = {};
  total = 0;
  private readonly listener = (message: unknown) => {
    const req = (message as { request?: { origin?: unknown; method?: string; path?: string } }).request;
    if (!req || String(req.origin) !== this.origin) return;
    this.total++;
    const kind = `${req.method ?? '?'} ${resourceOf(req.path ?? '')}`;
    this.byKind[kind] = (this.byKind[kind] ?? 0) + 1;
    const key = this.attribute?.(safeDecode(req.path ?? ''));
    if (key) this.byKey[key] = (this.byKey[key] ?? 0) + 1;
  };

  constructor(
    private readonly origin: string,
    private readonly attribute?: (pathAndQuery: string) => string | null,
  ) {
    subscribe('undici:request:create', this.listener);
  }

  reset(): void {
    this.total = 0;
    for (const k of Object.keys(this.byKind)) delete this.byKind[k];
    for (const k of Object.keys(this.byKey)) delete this.byKey[k];
  }

  stop(): void {
    unsubscribe('undici:request:create', this.listener);
  }
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** `deployments`, `pods`, `deployments/<name>` -> the resource (and `?watch` marked). */
export function resourceOf(path: string): string {
  const [p, query = ''] = path.split('?');
  const parts = (p ?? '').split('/').filter(Boolean);
  const ns = parts.indexOf('namespaces');
  let resource: string;
  if (ns >= 0 && parts.length > ns + 2) {
    const rest = parts.slice(ns + 2);
    resource =
      rest.length >= 2
        ? `${rest[0]}/{name}${rest.length > 2 ? `/${rest.slice(2).join('/')}` : ''}`
        : rest[0]!;
  } else {
    resource = parts.slice(-1)[0] ?? '';
  }
  return /(^|&)watch=(true|1)/.test(query) ? `${resource} (watch)` : resource;
}

/** Sum of apiserver_request_total now, and by verb. */
export async function serverRequestTotals(
  kubectl: string,
  adminKubeconfig: string,
): Promise<{ total: number; byVerb: Record<string, number> }> {
  const { stdout } = await runKubectl(kubectl, adminKubeconfig, ['get', '--raw', '/metrics']);
  let total = 0;
  const byVerb: Record<string, number> = {};
  for (const line of stdout.split('\n')) {
    if (!line.startsWith('apiserver_request_total{')) continue;
    const value = Number(line.slice(line.lastIndexOf(' ') + 1));
    if (!Number.isFinite(value)) continue;
    total += value;
    const verb = /verb="([^"]*)"/.exec(line)?.[1] ?? '?';
    byVerb[verb] = (byVerb[verb] ?? 0) + value;
  }
  return { total, byVerb };
}

/** b - a, by key. */
export function delta(
  a: { total: number; byVerb: Record<string, number> },
  b: { total: number; byVerb: Record<string, number> },
): { total: number; byVerb: Record<string, number> } {
  const byVerb: Record<string, number> = {};
  for (const [k, v] of Object.entries(b.byVerb)) {
    const d = v - (a.byVerb[k] ?? 0);
    if (d > 0) byVerb[k] = d;
  }
  return { total: b.total - a.total, byVerb };
}
