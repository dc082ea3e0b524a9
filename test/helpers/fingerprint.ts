/**
 * The end state a fault run is judged by: everything a release step may change, compared in full.
 *
 * - Every Deployment of the namespace: labels, annotations and the whole spec (replicas, selector,
 *   template, strategy).
 * - Every Service: labels, annotations and the spec (selector, ports, type).
 * - Every Ingress: labels, annotations (the ALB actions and their weights) and the spec (rules).
 * - The service's lock: its holder and stage.
 * - The record of each release named: outcome, phases (name, weight, verdict, ended), final
 *   image, images, the rollback (trigger, reason, phase, completed) and how many rollbacks it
 *   recorded.
 *
 * What legitimately differs between two runs of the same step is normalized, and nothing else:
 * the deployment id (in labels, annotations, selectors, lock and ARNs: each release named becomes
 * `<release N>`); timestamps, resourceVersions, uids, generations and managedFields (never read);
 * the Deployment controller's revision counter (`deployment.kubernetes.io/revision`); the
 * ClusterIP the API server allocates to a created Service; and a `pod-template-hash` value, which
 * becomes the ReplicaSet it names (owner and images), so a pin to the wrong ReplicaSet still shows.
 */
import { labelValue, POD_TEMPLATE_HASH_LABEL } from '../../functions/adapters/kubernetes/labels.js';
import type { DeploymentRecord } from '../../functions/domain/record.js';
import type { DeploymentStore } from '../../functions/ports/store.js';
import { adminApis } from './k8s.js';

/** What is compared; each map is keyed by object name (or `<release N>` for records). */
export interface Fingerprint {
  readonly deployments: Readonly<Record<string, unknown>>;
  readonly services: Readonly<Record<string, unknown>>;
  readonly ingresses: Readonly<Record<string, unknown>>;
  readonly lock: unknown;
  readonly records: Readonly<Record<string, unknown>>;
}

/** The cluster part of a {@link Fingerprint}. */
export type ClusterState = Pick<Fingerprint, 'deployments' | 'services' | 'ingresses'>;

/** Counters the controllers bump on every change; they differ between any two runs. */
const COUNTER_ANNOTATIONS = new Set(['deployment.kubernetes.io/revision']);
/** Service spec fields the API server allocates when the Service is created. */
const ALLOCATED_SERVICE_FIELDS = new Set(['clusterIP', 'clusterIPs']);

/** A plain JSON copy with object keys sorted and undefined dropped (stable to compare and print). */
function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value instanceof Date) return value.toISOString();
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(value).sort()) {
      const v = (value as Record<string, unknown>)[k];
      if (v !== undefined) out[k] = canonical(v);
    }
    return out;
  }
  return value;
}

function withoutKeys(map: Record<string, unknown> | undefined, drop: ReadonlySet<string>) {
  if (!map) return undefined;
  return Object.fromEntries(Object.entries(map).filter(([k]) => !drop.has(k)));
}

/** Deployments, Services and Ingresses of `namespace`, read as admin; `pod-template-hash` named. */
export async function clusterState(namespace: string): Promise<ClusterState> {
  const { apps, core, networking } = adminApis();
  const [ds, ss, is, rss] = await Promise.all([
    apps.listNamespacedDeployment({ namespace }),
    core.listNamespacedService({ namespace }),
    networking.listNamespacedIngress({ namespace }),
    apps.listNamespacedReplicaSet({ namespace }),
  ]);
  const hashes = new Map<string, string>();
  for (const rs of rss.items) {
    const hash = rs.metadata?.labels?.[POD_TEMPLATE_HASH_LABEL];
    if (!hash) continue;
    const owner = rs.metadata?.ownerReferences?.find((o) => o.controller)?.name ?? '(no owner)';
    const images = (rs.spec?.template?.spec?.containers ?? []).map((c) => `${c.name}=${c.image}`).join(',');
    hashes.set(hash, `<ReplicaSet of ${owner} running ${images}>`);
  }
  const hashed = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(hashed);
    if (value !== null && typeof value === 'object') {
      return Object.fromEntries(
        Object.entries(value).map(([k, v]) => [
          k,
          k === POD_TEMPLATE_HASH_LABEL && typeof v === 'string'
            ? (hashes.get(v) ?? `<no ReplicaSet has pod-template-hash ${v}>`)
            : hashed(v),
        ]),
      );
    }
    return value;
  };
  const byName = <T extends { metadata?: { name?: string } }>(items: T[], shape: (o: T) => unknown) =>
    Object.fromEntries(items.map((o) => [o.metadata?.name ?? '(unnamed)', hashed(canonical(shape(o)))]));
  return {
    deployments: byName(ds.items, (d) => ({
      labels: d.metadata?.labels,
      annotations: withoutKeys(d.metadata?.annotations, COUNTER_ANNOTATIONS),
      spec: d.spec,
    })),
    services: byName(ss.items, (s) => ({
      labels: s.metadata?.labels,
      annotations: s.metadata?.annotations,
      spec: withoutKeys(s.spec as Record<string, unknown> | undefined, ALLOCATED_SERVICE_FIELDS),
    })),
    ingresses: byName(is.items, (i) => ({
      labels: i.metadata?.labels,
      annotations: i.metadata?.annotations,
      spec: i.spec,
    })),
  };
}

/** What of a record a fault may get wrong; not its timeline, whose wording differs on a retry. */
export function recordState(r: DeploymentRecord | null): unknown {
  if (!r) return null;
  return canonical({
    outcome: r.outcome,
    phases: r.phases.map((p) => ({
      name: p.name,
      weight: p.weight,
      verdict: p.verdict,
      ended: p.endedAt !== null,
    })),
    finalImage: r.finalImage,
    images: r.images,
    previousImages: r.previousImages,
    rollback: r.rollback
      ? {
          trigger: r.rollback.trigger,
          reason: r.rollback.reason,
          phase: r.rollback.phase,
          completed: r.rollback.completedAt !== null,
        }
      : null,
    rollbacksRecorded: r.events.filter((e) => e.message.startsWith('rolled back by ')).length,
  });
}

/** Replaces each release's id (raw, as a label value, at the end of an ARN) with `<release N>`. */
export function normalizeIds<T>(value: T, releases: readonly string[]): T {
  const names = releases.map((_, i) => `<release ${i + 1}>`);
  const str = (s: string): string => {
    for (const [i, id] of releases.entries()) {
      if (s === id || s === labelValue(id)) return names[i]!;
      if (s.endsWith(`:${id}`)) return `${s.slice(0, -id.length)}${names[i]}`;
    }
    return s;
  };
  const walk = (v: unknown): unknown => {
    if (typeof v === 'string') return str(v);
    if (Array.isArray(v)) return v.map(walk);
    if (v !== null && typeof v === 'object')
      return Object.fromEntries(Object.entries(v).map(([k, x]) => [str(k), walk(x)]));
    return v;
  };
  return walk(value) as T;
}

/**
 * The fingerprint of `namespace` and of the releases named (their records; the lock is the
 * service's), each release's id normalized to `<release N>` in list order.
 */
export async function fingerprint(
  namespace: string,
  store: DeploymentStore,
  service: string,
  releases: readonly string[],
): Promise<Fingerprint> {
  const [cluster, lock, records] = await Promise.all([
    clusterState(namespace),
    store.active(service),
    Promise.all(releases.map((id) => store.get(service, id))),
  ]);
  return normalizeIds(
    {
      ...cluster,
      lock: lock ? { holder: lock.deploymentId, stage: lock.stage, executionArn: lock.executionArn } : null,
      records: Object.fromEntries(releases.map((id, i) => [id, recordState(records[i] ?? null)])),
    },
    releases,
  );
}

const show = (v: unknown): string => {
  if (v === undefined) return '(absent)';
  const s = JSON.stringify(v);
  return s.length > 200 ? `${s.slice(0, 197)}...` : s;
};

/**
 * Where `actual` differs from `expected`, one line per differing leaf (`deployments.shop.spec.replicas:
 * 4 -> 5`), at most `limit` lines. Empty when they are equal.
 */
export function differences(expected: unknown, actual: unknown, limit = 12): string[] {
  const out: string[] = [];
  const walk = (a: unknown, b: unknown, path: string) => {
    if (out.length >= limit) return;
    const objA = a !== null && typeof a === 'object';
    const objB = b !== null && typeof b === 'object';
    if (objA && objB && Array.isArray(a) === Array.isArray(b)) {
      if (Array.isArray(a) && Array.isArray(b) && a.length !== b.length) {
        out.push(`${path}: ${show(a)} -> ${show(b)}`);
        return;
      }
      const keys = new Set([...Object.keys(a as object), ...Object.keys(b as object)]);
      for (const k of [...keys].sort())
        walk((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], path ? `${path}.${k}` : k);
      return;
    }
    if (JSON.stringify(a) !== JSON.stringify(b)) out.push(`${path || '(root)'}: ${show(a)} -> ${show(b)}`);
  };
  walk(canonical(expected), canonical(actual), '');
  return out;
}

/** Whether two fingerprints (or parts of them) are equal. */
export function same(a: unknown, b: unknown): boolean {
  return JSON.stringify(canonical(a)) === JSON.stringify(canonical(b));
}
