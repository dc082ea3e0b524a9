/**
 * What the reports show, derived once from a deployment record: the windows in order with their
 * numbers, thresholds and decisions, where the rollback happened, and the traffic over time.
 * Pure: no I/O, no formatting.
 */
import { imageVersion } from '../functions/domain/input.js';
import type {
  CheckResult,
  DeploymentRecord,
  PhaseRecord,
  VersionMetrics,
  WindowDecision,
} from '../functions/domain/record.js';

/** Check names as written by functions/domain/analysis.ts (CHECK_NAMES) and the pod check. */
export const CHECKS = {
  pods: 'pods',
  errorRate: 'error-rate',
  errorRateVsStable: 'error-rate-vs-stable',
  p99Slo: 'p99-slo',
  p99VsStable: 'p99-vs-stable',
  throughput: 'throughput',
  resources: 'resources',
} as const;

/** One validation window, as the report shows it. */
export interface WindowRow {
  /** `canary #1 (10%)` */
  readonly label: string;
  readonly phase: string;
  readonly attempt: number;
  readonly weight: number;
  readonly decision: WindowDecision;
  readonly canary: VersionMetrics | null;
  readonly stable: VersionMetrics | null;
  /** The limits in force: error rate (ratio) and the p99 SLO (ms). */
  readonly limits: { readonly errorRate: number | null; readonly p99Ms: number | null };
  /** What the pipeline did next: proceed, extend the window, roll back, complete the release. */
  readonly action: string;
  /** True for the window whose verdict led to the rollback. */
  readonly rolledBackAfter: boolean;
}

/** A point of the traffic timeline: minutes since the start, percent to the new version. */
export interface WeightPoint {
  readonly minute: number;
  readonly weight: number;
}

/** A gate (approval, attestation, migration...) if the record carries them. */
export interface GateRow {
  readonly name: string;
  readonly status: string;
  readonly detail: string;
  readonly at: string | null;
}

export interface ReportModel {
  readonly record: DeploymentRecord;
  readonly version: string;
  readonly previousVersion: string | null;
  readonly durationSeconds: number | null;
  readonly windows: readonly WindowRow[];
  readonly weights: readonly WeightPoint[];
  /** Minute of the rollback on the timeline, if any. */
  readonly rollbackMinute: number | null;
  /**
   * Where the rollback sits among the windows: on the window whose verdict caused it
   * (`onWindow`), or after window `index` (-1: before any) when it came from elsewhere (pods that
   * never became ready, an alarm, a person).
   */
  readonly rollbackAt: { readonly index: number; readonly onWindow: boolean } | null;
  readonly gates: readonly GateRow[];
}

const ms = (iso: string) => Date.parse(iso);

export function check(d: WindowDecision, name: string): CheckResult | undefined {
  return d.checks.find((c) => c.name === name);
}

function actionFor(phase: PhaseRecord, index: number, phases: readonly PhaseRecord[]): string {
  const d = phase.decisions[index]!;
  if (d.verdict === 'fail') return 'roll back';
  if (d.verdict === 'inconclusive') {
    return index < phase.decisions.length - 1 ? 'extend the window' : 'fail safe: roll back';
  }
  const next = phases[phases.indexOf(phase) + 1];
  if (next) return `proceed to ${next.name} (${next.weight}%)`;
  return phase.name === 'production' ? 'complete the release' : 'proceed';
}

/** The pre-deployment gates with their evidence, then the team lead's approval (when recorded). */
function gatesOf(record: DeploymentRecord): GateRow[] {
  const rows: GateRow[] = (record.gates ?? []).map((g) => ({
    name: g.name,
    status: g.passed ? 'pass' : 'fail',
    detail: g.evidence,
    at: null,
  }));
  const a = record.approval;
  if (a) {
    rows.push({
      name: 'approval',
      status: a.decision === 'approved' ? 'pass' : 'fail',
      detail: `${a.decision}${a.by ? ` by ${a.by}` : ''}${a.comment ? `: ${a.comment}` : ''}`,
      at: a.at,
    });
  } else if (record.pendingApproval) {
    rows.push({
      name: 'approval',
      status: 'waiting',
      detail: `requested ${record.pendingApproval.requestedAt}, expires ${record.pendingApproval.expiresAt}`,
      at: record.pendingApproval.requestedAt,
    });
  }
  return rows;
}

/** Derives everything the Markdown and HTML reports show. */
export function reportModel(record: DeploymentRecord): ReportModel {
  const t0 = ms(record.startedAt);
  const minute = (iso: string) => Math.max(0, (ms(iso) - t0) / 60_000);
  const windows: WindowRow[] = [];
  for (const phase of record.phases) {
    phase.decisions.forEach((d, i) => {
      windows.push({
        label: `${phase.name}${phase.decisions.length > 1 ? ` #${i + 1}` : ''} (${phase.weight}%)`,
        phase: phase.name,
        attempt: d.attempt,
        weight: phase.weight,
        decision: d,
        canary: d.canary,
        stable: d.stable,
        limits: {
          errorRate: check(d, CHECKS.errorRate)?.threshold ?? null,
          p99Ms: check(d, CHECKS.p99Slo)?.threshold ?? null,
        },
        action: actionFor(phase, i, record.phases),
        rolledBackAfter: false,
      });
    });
  }
  let rollbackAt: ReportModel['rollbackAt'] = null;
  if (record.rollback) {
    const rb = record.rollback;
    let index = -1;
    windows.forEach((w, i) => {
      if (ms(w.decision.end) <= ms(rb.startedAt)) index = i;
    });
    const last = windows[index];
    const onWindow =
      last !== undefined &&
      last.phase === rb.phase &&
      last.decision.verdict !== 'pass' &&
      rb.trigger === 'state-machine';
    rollbackAt = { index, onWindow };
    if (onWindow) windows[index] = { ...last, rolledBackAfter: true };
  }
  const weights: WeightPoint[] = [{ minute: 0, weight: 0 }];
  for (const p of record.phases) weights.push({ minute: minute(p.startedAt), weight: p.weight });
  const rollbackMinute = record.rollback ? minute(record.rollback.startedAt) : null;
  if (record.rollback) weights.push({ minute: rollbackMinute!, weight: 0 });
  const end = record.endedAt ?? record.events.at(-1)?.at ?? null;
  if (end) weights.push({ minute: minute(end), weight: weights.at(-1)!.weight });
  return {
    record,
    version: imageVersion(record.image),
    previousVersion: record.previousImage ? imageVersion(record.previousImage) : null,
    durationSeconds: end ? (ms(end) - t0) / 1000 : null,
    windows,
    weights,
    rollbackMinute,
    rollbackAt,
    gates: gatesOf(record),
  };
}

// ---- number formatting shared by both renderers ------------------------------------------------

/** 0.0123 -> `1.23%`; small rates keep three significant digits (`0.0125%`). */
export function percent(v: number | null | undefined): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return 'n/a';
  const p = v * 100;
  if (p === 0) return '0%';
  if (Math.abs(p) >= 10) return `${Number(p.toFixed(1))}%`;
  return `${Number(p.toPrecision(3))}%`;
}

export function millis(v: number | null | undefined): string {
  return v === null || v === undefined || !Number.isFinite(v) ? 'n/a' : `${Math.round(v)} ms`;
}

export function rate(v: number | null | undefined): string {
  return v === null || v === undefined || !Number.isFinite(v) ? 'n/a' : `${v.toFixed(1)} rps`;
}

export function pValue(v: number | null | undefined): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '';
  if (v === 0) return 'p<1e-300';
  return v < 0.001 ? `p=${v.toExponential(1)}` : `p=${Number(v.toPrecision(2))}`;
}

/** A check's numbers in words: value and threshold in the check's own unit. */
export function checkNumbers(c: CheckResult): { value: string; threshold: string } {
  const n = (v: number | null | undefined, f: (x: number) => string) =>
    v === null || v === undefined || !Number.isFinite(v) ? '' : f(v);
  switch (c.name) {
    case CHECKS.errorRate:
      return { value: n(c.value, percent), threshold: n(c.threshold, (x) => `< ${percent(x)}`) };
    case CHECKS.errorRateVsStable:
      return {
        value: n(c.value, percent),
        threshold: n(c.threshold, (x) => `p < ${Number(x.toPrecision(2))}`),
      };
    case CHECKS.p99Slo:
      return { value: n(c.value, millis), threshold: n(c.threshold, (x) => `< ${millis(x)}`) };
    case CHECKS.p99VsStable:
      return { value: n(c.value, (x) => `${x.toFixed(2)}x`), threshold: n(c.threshold, (x) => `≤ ${x}x`) };
    case CHECKS.throughput:
      return {
        value: n(c.value, (x) => `${x.toFixed(2)}x baseline`),
        threshold: n(c.threshold, (x) => `bound ${x}x`),
      };
    case CHECKS.resources:
      return { value: n(c.value, percent), threshold: n(c.threshold, (x) => `< ${percent(x)}`) };
    case CHECKS.pods:
      return { value: n(c.value, (x) => `${x} restarts`), threshold: n(c.threshold, (x) => `${x} restarts`) };
    default:
      return {
        value: n(c.value, (x) => String(Number(x.toPrecision(4)))),
        threshold: n(c.threshold, (x) => String(x)),
      };
  }
}

export function durationText(seconds: number | null): string {
  if (seconds === null) return 'n/a';
  const m = Math.floor(seconds / 60);
  const s = Math.round(seconds % 60);
  return m > 0 ? `${m} min ${s} s` : `${s} s`;
}
