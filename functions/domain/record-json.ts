import type { DeploymentRecord, Outcome, RollbackInfo, Verdict } from './record.js';

/**
 * The deployment record as scripts read it (`tps-deploy local --json`, `status --json`,
 * `report --json`). This shape is an interface: fields are only ever added.
 */
export interface RecordJson {
  readonly deploymentId: string;
  readonly outcome: Exclude<Outcome, 'RUNNING'> | 'RUNNING';
  readonly service: string;
  readonly mode: 'standard' | 'hotfix';
  readonly requestedBy: string;
  readonly changeRef: string | null;
  readonly image: string;
  readonly previousImage: string | null;
  readonly finalImage: string | null;
  readonly startedAt: string;
  readonly endedAt: string | null;
  readonly phases: readonly {
    readonly name: string;
    readonly weight: number;
    readonly startedAt: string;
    readonly endedAt: string | null;
    readonly verdict: Verdict | null;
    /** Numbers of the new version in the phase's last window (null when nothing was measured). */
    readonly metrics: {
      readonly errorRate: number | null;
      readonly p99Ms: number | null;
      readonly rps: number | null;
    };
    /** One sentence per window: why the verdict. */
    readonly decisions: readonly string[];
  }[];
  readonly rollback: {
    readonly trigger: string;
    readonly reason: string;
    readonly phase: RollbackInfo['phase'];
  } | null;
}

/** Projects a stored record onto the documented JSON shape. */
export function toRecordJson(r: DeploymentRecord): RecordJson {
  return {
    deploymentId: r.deploymentId,
    outcome: r.outcome,
    service: r.service,
    mode: r.mode,
    requestedBy: r.requestedBy,
    changeRef: r.changeRef,
    image: r.image,
    previousImage: r.previousImage,
    finalImage: r.finalImage,
    startedAt: r.startedAt,
    endedAt: r.endedAt,
    phases: r.phases.map((p) => {
      const last = p.decisions.at(-1);
      return {
        name: p.name,
        weight: p.weight,
        startedAt: p.startedAt,
        endedAt: p.endedAt,
        verdict: p.verdict,
        metrics: {
          errorRate: last?.canary?.errorRate ?? null,
          p99Ms: last?.canary?.p99Ms ?? null,
          rps: last?.canary?.rps ?? null,
        },
        decisions: p.decisions.map((d) => `${d.verdict}: ${d.summary}`),
      };
    }),
    rollback: r.rollback
      ? { trigger: r.rollback.trigger, reason: r.rollback.reason, phase: r.rollback.phase }
      : null,
  };
}

const pct = (v: number | null) => (v === null ? 'n/a' : `${(v * 100).toFixed(3)}%`);
const ms = (v: number | null) => (v === null ? 'n/a' : `${Math.round(v)} ms`);

/** A short plain-text rendering for terminals. */
export function renderRecordText(r: DeploymentRecord): string {
  const j = toRecordJson(r);
  const lines = [
    `${j.service} ${j.deploymentId}: ${j.outcome}`,
    `  image ${j.image} (was ${j.previousImage ?? 'unknown'}; now ${j.finalImage ?? 'unknown'})`,
  ];
  for (const g of r.gates ?? []) lines.push(`  gate ${g.passed ? 'ok  ' : 'FAIL'} ${g.name}: ${g.evidence}`);
  for (const p of j.phases) {
    lines.push(
      `  ${p.name.padEnd(10)} ${String(p.weight).padStart(3)}%  ${(p.verdict ?? '-').padEnd(12)} errors ${pct(p.metrics.errorRate)}  p99 ${ms(p.metrics.p99Ms)}  ${p.metrics.rps === null ? '' : `${p.metrics.rps.toFixed(1)} rps`}`,
    );
    for (const d of p.decisions) lines.push(`      ${d}`);
  }
  if (j.rollback)
    lines.push(`  rolled back at ${j.rollback.phase ?? '?'} by ${j.rollback.trigger}: ${j.rollback.reason}`);
  return lines.join('\n');
}
