/**
 * Who changed a Deployment, from its server-side `managedFields` (every write since 1.18 records
 * its field manager, the operation, the subresource and when). tps-deploy writes as
 * {@link FIELD_MANAGER}; the horizontal-pod-autoscaler controller scales through the `scale`
 * subresource as `kube-controller-manager`; a person's kubectl and a GitOps controller show up
 * under their own names. That is how a release tells an autoscaler's scale from a person's, and
 * says in the record who changed what.
 */
import type { V1ManagedFieldsEntry } from '@kubernetes/client-node';

/** The field manager of every tps-deploy write (set on each request by createKubeClients). */
export const FIELD_MANAGER = 'tps-deploy';

/** The manager kube-controller-manager's controllers (the HPA among them) write as. */
export const CONTROLLER_MANAGER = 'kube-controller-manager';

/** One writer of some fields. */
export interface FieldWriter {
  readonly manager: string;
  readonly operation: string;
  readonly subresource: string | null;
  readonly time: string | null;
}

function writerOf(e: V1ManagedFieldsEntry): FieldWriter {
  return {
    manager: e.manager ?? '(unknown)',
    operation: e.operation ?? '(unknown)',
    subresource: e.subresource ?? null,
    time: e.time ? new Date(e.time as unknown as string).toISOString() : null,
  };
}

/** Whether the fieldsV1 tree holds the path (`['f:spec', 'f:replicas']`). */
function owns(fields: unknown, path: readonly string[]): boolean {
  let node = fields as Record<string, unknown> | undefined;
  for (const key of path) {
    if (!node || typeof node !== 'object' || !(key in node)) return false;
    node = node[key] as Record<string, unknown> | undefined;
  }
  return true;
}

/** Who owns `spec.replicas` now (the last to set it), or null when nobody is recorded. */
export function replicasOwner(entries: readonly V1ManagedFieldsEntry[] | undefined): FieldWriter | null {
  const e = (entries ?? []).find((m) => owns(m.fieldsV1, ['f:spec', 'f:replicas']));
  return e ? writerOf(e) : null;
}

/** Whether a writer is an autoscaler: a controller writing through the scale subresource. */
export function isAutoscaler(w: FieldWriter | null): boolean {
  return w !== null && w.manager === CONTROLLER_MANAGER && w.subresource === 'scale';
}

/**
 * The writers other than tps-deploy that changed anything under `spec.template` after `since`
 * (a person's `kubectl set image`, an editor, a GitOps controller), for the record.
 */
export function templateWritersSince(
  entries: readonly V1ManagedFieldsEntry[] | undefined,
  since: string,
): FieldWriter[] {
  // managedFields times are whole seconds: a write in the same second as `since` counts.
  const after = Math.floor(Date.parse(since) / 1000) * 1000;
  return (entries ?? [])
    .filter((m) => m.manager !== FIELD_MANAGER && owns(m.fieldsV1, ['f:spec', 'f:template']))
    .map(writerOf)
    .filter((w) => w.time !== null && Date.parse(w.time) >= after);
}

/**
 * Whether a live count is drift, and the count expected. During the phases (`recorded`) the
 * expected count is the one tps-deploy last set (its annotation `marker`) or the recorded one;
 * after Clean Up (`finalized`) the recorded one, unless tps-deploy itself owns the count: Clean Up
 * may write more than recorded (the pods serving, with an HPA), and that count is the release's.
 * An autoscaler's count is never drift.
 */
export function replicasDrift(args: {
  readonly expected: 'recorded' | 'finalized';
  readonly recorded: number;
  readonly marker: string | undefined;
  readonly live: number;
  readonly owner: FieldWriter | null;
}): { readonly want: number; readonly drift: boolean; readonly byOthers: boolean } {
  const { expected, recorded, marker, live, owner } = args;
  const want = expected === 'recorded' && marker !== undefined ? Number(marker) : recorded;
  const ours = owner !== null && owner.manager === FIELD_MANAGER;
  const drift = live !== want && !isAutoscaler(owner) && !(expected === 'finalized' && ours);
  return { want, drift, byOthers: drift && owner !== null && !ours };
}

/** `kubectl (Update, 2026-12-05T10:00:00.000Z)`: a writer in words. */
export function describeWriter(w: FieldWriter): string {
  return `${w.manager} (${w.operation}${w.subresource ? ` /${w.subresource}` : ''}${w.time ? `, ${w.time}` : ''})`;
}
