/**
 * The runbook's pre-deployment gates, as pure judgments (table-tested in test/unit/gates*.test.ts):
 * attestations, monitoring, metrics present, on-call, rollback plan, traffic share, change
 * freeze, migration plan (and tests provenance where the catalog asks for it). The steps (functions/release/gates.ts) gather their inputs through the ports; a gate whose
 * inputs cannot be read fails with the reason (a gate that cannot be checked is not passed).
 */

import type { AlarmStateReading } from '../ports/alarms.js';
import type { RollbackPlan } from '../ports/cluster.js';
import type { WindowMetrics } from '../ports/metrics.js';
import type { PipelineActionExecution } from '../ports/pipelines.js';
import { type AlarmSignal, alarmName } from './alarms.js';
import { TESTS_OUTPUT_VARIABLES } from './build-outputs.js';
import type { FreezeWindowConfig, ServiceConfig } from './config.js';
import { PHASE_NAMES, type PhaseName, RUNBOOK } from './defaults.js';
import type { ExecutionInput, ReleasePlan } from './input.js';
import type { FollowUp, GateResult } from './record.js';
import { MAX_REPLICAS_FOR_SHARE, replicasForShares, splitReplicas } from './replicas.js';
import { activeCronWindow, type IsoInterval, parseCron, parseIsoInterval } from './schedule.js';

/** Gate names, as the record and the messages spell them. */
export const GATE_NAMES = {
  attestations: 'attestations',
  monitoring: 'monitoring',
  metrics: 'metrics present',
  onCall: 'on-call',
  rollbackPlan: 'rollback plan',
  freeze: 'change freeze',
  migration: 'migration plan',
  testsProvenance: 'tests provenance',
  trafficShare: 'traffic share',
} as const;

/** A gate's judgment plus what it leaves owed. */
export interface GateJudgment {
  readonly gate: GateResult;
  readonly followUps: readonly Omit<FollowUp, 'createdAt'>[];
}

export const pass = (
  name: string,
  evidence: string,
  followUps: GateJudgment['followUps'] = [],
): GateJudgment => ({
  gate: { name, passed: true, evidence },
  followUps,
});
export const fail = (name: string, evidence: string): GateJudgment => ({
  gate: { name, passed: false, evidence },
  followUps: [],
});

// ---- pure judgments --------------------------------------------------------------------------

/**
 * Tests passed and at least `minReviewers` distinct reviewers other than the requester (names
 * compared case-insensitively). A hotfix short of reviews passes only with a risk acknowledgement,
 * and owes the review as a follow-up.
 */
export function judgeAttestations(
  input: Pick<ExecutionInput, 'attestations' | 'mode' | 'requestedBy'>,
  minReviewers: number,
): GateJudgment {
  const a = input.attestations ?? {};
  const requester = input.requestedBy?.trim().toLowerCase();
  const all = [...new Set((a.reviewers ?? []).map((r) => r.trim().toLowerCase()).filter(Boolean))];
  const reviewers = all.filter((r) => r !== requester);
  const selfReview = all.length > reviewers.length ? ' (the requester does not count as a reviewer)' : '';
  const evidenceLinks = a.evidence
    ? `; evidence ${Object.entries(a.evidence)
        .map(([k, v]) => `${k}: ${v}`)
        .join(', ')}`
    : '';
  const problems: string[] = [];
  if (a.testsPassed !== true) {
    problems.push(
      a.testsPassed === false
        ? 'tests did not pass (attestations.testsPassed is false)'
        : 'no attestation that tests passed (attestations.testsPassed)',
    );
  }
  const reviewWord = `${reviewers.length} distinct reviewer${reviewers.length === 1 ? '' : 's'}${reviewers.length ? ` (${reviewers.join(', ')})` : ''}`;
  const shortOfReviews = reviewers.length < minReviewers;
  if (shortOfReviews && input.mode === 'hotfix' && a.riskAcknowledgement) {
    if (problems.length > 0)
      return fail(
        GATE_NAMES.attestations,
        `${problems.join('; ')}; ${reviewWord}${selfReview}${evidenceLinks}`,
      );
    return pass(
      GATE_NAMES.attestations,
      `tests passed; hotfix with ${reviewWord} of ${minReviewers} required${selfReview}: risk acknowledged: "${a.riskAcknowledgement}"${evidenceLinks}`,
      [
        {
          item: 'code review owed',
          detail: `hotfix released with ${reviewWord} of ${minReviewers} required; risk acknowledged: "${a.riskAcknowledgement}"`,
        },
      ],
    );
  }
  if (shortOfReviews) {
    problems.push(
      `${reviewWord} of ${minReviewers} required${selfReview}${input.mode === 'hotfix' ? '; a hotfix short of reviews needs attestations.riskAcknowledgement' : ''}`,
    );
  }
  if (problems.length > 0) return fail(GATE_NAMES.attestations, `${problems.join('; ')}${evidenceLinks}`);
  return pass(GATE_NAMES.attestations, `tests passed; ${reviewWord}${selfReview}${evidenceLinks}`);
}

/**
 * The alarms infra/constructs/service-alarms.ts creates for a service: the CloudWatch-metrics
 * alarms (error rate, p99, the circuit breaker when configured, metrics missing) and OOM kills.
 */
export function serviceAlarmNames(appName: string, service: string, svc: ServiceConfig): string[] {
  const signals: AlarmSignal[] = [];
  if (svc.metrics.source === 'cloudwatch') {
    signals.push('errorRate', 'latency');
    if (svc.metrics.circuitBreaker) signals.push('circuitBreaker');
    signals.push('metricsMissing');
  }
  signals.push('oomKills');
  return signals.map((s) => alarmName(appName, service, s));
}

/**
 * Monitoring is ready when every alarm of the service exists and none is in ALARM.
 * INSUFFICIENT_DATA passes (a new or quiet alarm) but is named in the evidence.
 */
export function judgeMonitoring(readings: readonly AlarmStateReading[]): GateJudgment {
  if (readings.length === 0) return fail(GATE_NAMES.monitoring, 'no alarms to check');
  const alarming = readings.filter((r) => r.state === 'ALARM');
  const missing = readings.filter((r) => r.state === 'MISSING');
  const list = readings.map((r) => `${r.name} ${r.state}`).join(', ');
  const problems: string[] = [];
  if (alarming.length)
    problems.push(
      `in ALARM: ${alarming.map((r) => `${r.name}${r.reason ? ` (${r.reason})` : ''}`).join(', ')}`,
    );
  if (missing.length) problems.push(`alarms not found: ${missing.map((r) => r.name).join(', ')}`);
  if (problems.length) return fail(GATE_NAMES.monitoring, `${problems.join('; ')}; all: ${list}`);
  return pass(
    GATE_NAMES.monitoring,
    `${readings.length} alarm${readings.length === 1 ? '' : 's'}, none in ALARM: ${list}`,
  );
}

/** Metrics are present when the stable version served requests over the lookback. */
export function judgeMetrics(m: WindowMetrics, lookbackSeconds: number, stableVersion: string): GateJudgment {
  const requests = m.stable?.requests ?? 0;
  const errs = m.measurementErrors.length ? `; measurement errors: ${m.measurementErrors.join('; ')}` : '';
  const what = `version ${stableVersion || '(unknown)'} over the last ${lookbackSeconds} s`;
  if (requests > 0) {
    const rps = m.stable?.rps;
    return pass(
      GATE_NAMES.metrics,
      `${requests} requests${rps != null ? ` (${rps.toFixed(1)} rps)` : ''} from ${what}${errs}`,
    );
  }
  return fail(
    GATE_NAMES.metrics,
    `no requests from ${what}: the validation windows would have nothing to judge${errs}`,
  );
}

/** Someone is on call (names from the schedule or the endpoint). */
export function judgeOnCall(names: readonly string[], source: string): GateJudgment {
  if (names.length > 0) return pass(GATE_NAMES.onCall, `on call: ${names.join(', ')} (${source})`);
  return fail(GATE_NAMES.onCall, `nobody is on call (${source})`);
}

/** Someone is on call at the release's start and still at its expected end. */
export function judgeOnCallSpan(
  atStart: readonly string[],
  atEnd: readonly string[],
  source: string,
): GateJudgment {
  if (atStart.length > 0 && atEnd.length === 0) {
    return fail(
      GATE_NAMES.onCall,
      `on call now: ${atStart.join(', ')}, but nobody at the expected end (${source})`,
    );
  }
  return judgeOnCall(atStart, source);
}

/** A freeze window covering `now`, with its bounds. */
export interface ActiveFreeze {
  readonly name: string;
  readonly window: IsoInterval;
  readonly allowHotfix: boolean;
}

/** The freeze windows that cover `now` (UTC). */
export function activeFreezes(windows: readonly FreezeWindowConfig[], now: Date): ActiveFreeze[] {
  const out: ActiveFreeze[] = [];
  for (const w of windows) {
    const window =
      'interval' in w
        ? (() => {
            const i = parseIsoInterval(w.interval);
            return i && i.start <= now && now < i.end ? i : null;
          })()
        : activeCronWindow(parseCron(w.cron), w.durationMinutes, now);
    if (window) out.push({ name: w.name, window, allowHotfix: w.allowHotfix !== false });
  }
  return out;
}

/**
 * No standard release starts inside a change freeze. A hotfix may, unless the window says
 * `allowHotfix: false`; it then owes a follow-up naming the freeze.
 */
export function judgeFreeze(
  windows: readonly FreezeWindowConfig[],
  mode: 'standard' | 'hotfix',
  now: Date,
): GateJudgment {
  const active = activeFreezes(windows, now);
  const at = now.toISOString();
  if (active.length === 0) {
    return pass(
      GATE_NAMES.freeze,
      `no freeze covers ${at} (${windows.length} window${windows.length === 1 ? '' : 's'} configured)`,
    );
  }
  const describe = (f: ActiveFreeze) =>
    `"${f.name}" (${f.window.start.toISOString()} to ${f.window.end.toISOString()})`;
  const blocking = active.filter((f) => mode === 'standard' || !f.allowHotfix);
  if (blocking.length > 0) {
    const why = mode === 'hotfix' ? 'which does not allow hotfixes' : 'only hotfixes may start in a freeze';
    return fail(GATE_NAMES.freeze, `${at} is inside freeze ${blocking.map(describe).join(', ')}: ${why}`);
  }
  return pass(
    GATE_NAMES.freeze,
    `hotfix inside freeze ${active.map(describe).join(', ')}, which allows hotfixes`,
    [
      {
        item: 'released during a change freeze',
        detail: `hotfix released inside freeze ${active.map(describe).join(', ')}`,
      },
    ],
  );
}

/** The rollback plan can be recorded: the Deployment exists and is readable. */
export function judgeRollbackPlan(plan: RollbackPlan | null, error: string | null): GateJudgment {
  if (!plan)
    return fail(
      GATE_NAMES.rollbackPlan,
      `cannot read the Deployment to record a rollback plan: ${error ?? 'unknown error'}`,
    );
  return pass(
    GATE_NAMES.rollbackPlan,
    `Deployment ${plan.namespace}/${plan.deployment} readable: ${plan.replicas} replicas of ${Object.entries(
      plan.images,
    )
      .map(([c, i]) => `${c}=${i}`)
      .join(', ')} (generation ${plan.generation})`,
  );
}

/** A migration's database must be one the catalog lists for the service (the IAM grants only those). */
export function judgeMigration(
  input: Pick<ExecutionInput, 'migration'>,
  svc: ServiceConfig,
): GateJudgment | null {
  const m = input.migration;
  if (!m) return null;
  const what = `migration ${m.when} the deploy with ${m.image}`;
  if (!m.database) return pass(GATE_NAMES.migration, `${what}; no database named, so no snapshot is taken`);
  const listed = (svc.databases ?? []).some(
    (d) => d.kind === m.database!.kind && d.identifier === m.database!.identifier,
  );
  if (!listed) {
    return fail(
      GATE_NAMES.migration,
      `${what}: database ${m.database.kind} ${m.database.identifier} is not in the service's databases (${(svc.databases ?? []).map((d) => d.identifier).join(', ') || 'none'}); tps-deploy may snapshot only those`,
    );
  }
  return pass(GATE_NAMES.migration, `${what}; snapshot of ${m.database.kind} ${m.database.identifier} first`);
}

/** A phase of the release and the percent of traffic it asks for the new version. */
export interface PhaseWeight {
  readonly phase: PhaseName;
  readonly weight: number;
}

/** The phases a release runs (a hotfix skips staging) with the weights its plan asks for. */
export function releaseWeights(plan: Pick<ReleasePlan, 'phases'>): PhaseWeight[] {
  return PHASE_NAMES.filter((p) => !(p === 'staging' && plan.phases.staging.skip)).map((phase) => ({
    phase,
    weight: plan.phases[phase].weight,
  }));
}

/**
 * The share of traffic each phase can really give the new version. The ALB router splits by
 * target-group weight: every weight exactly. The replica-ratio router splits by whole pods behind
 * one Service ({@link splitReplicas} from the Deployment's replicas now): with 1 replica a 10%
 * canary is 1 pod of 2, 50% of the traffic. A phase whose share is more than `tolerance`
 * percentage points off its weight fails the gate with the service, the phase, the weight asked,
 * the share it would get and the fix (the fewest replicas that bring every phase within the
 * tolerance, or the alb router, whose weights are exact); with `accept` it passes with a warning
 * instead. Unknown or zero replicas: fail (the share cannot be known).
 */
export function judgeTrafficShare(args: {
  readonly service: string;
  readonly router: ServiceConfig['router']['type'];
  readonly replicas: number | null;
  readonly phases: readonly PhaseWeight[];
  readonly tolerance: number;
  readonly accept: boolean;
}): GateJudgment {
  const { service, phases, tolerance } = args;
  const asked = phases.map((p) => `${p.phase} ${p.weight}%`).join(', ');
  if (args.router === 'alb') {
    return pass(
      GATE_NAMES.trafficShare,
      `alb router: target-group weights give every phase exactly its weight (${asked})`,
    );
  }
  const n = args.replicas;
  if (n === null || !Number.isInteger(n) || n < 1) {
    return fail(
      GATE_NAMES.trafficShare,
      n === null
        ? 'the replica count is unknown (the Deployment could not be read), so the share each phase gets cannot be known'
        : `the Deployment runs ${n} replicas: the replica-ratio router needs at least 1 to split traffic; scale it up first`,
    );
  }
  const pods = (k: number) => `${k} pod${k === 1 ? '' : 's'}`;
  const shares = phases.map((p) => {
    const split = splitReplicas(n, p.weight);
    return { ...p, split, off: Math.abs(split.share - p.weight) };
  });
  const list = shares
    .map(
      (s) =>
        `${s.phase} ${s.weight}% -> ${s.split.share}% (${s.split.canary} new + ${s.split.stable} old ${s.split.stable === 1 ? 'pod' : 'pods'})`,
    )
    .join(', ');
  const head = `replica-ratio router with ${pods(n)} (${n === 1 ? 'replica' : 'replicas'} now): ${list}`;
  const far = shares.filter((s) => s.off > tolerance + 1e-9);
  if (far.length === 0) {
    return pass(GATE_NAMES.trafficShare, `${head}; every phase within ${tolerance} points of its weight`);
  }
  const enough = replicasForShares(
    phases.map((p) => p.weight),
    tolerance,
    n + 1,
  );
  const more =
    enough === null
      ? `no replica count up to ${MAX_REPLICAS_FOR_SHARE} brings every phase within ${tolerance} points`
      : `run at least ${enough} replicas`;
  const problems = far
    .map(
      (s) =>
        `service ${service}, phase ${s.phase}: asked ${s.weight}%, the replica-ratio router can give ${s.split.share}% with ${pods(n)} (${s.split.canary} new + ${s.split.stable} old), ${Number(s.off.toFixed(2))} points off (tolerance ${tolerance})`,
    )
    .join('; ');
  const fix = `fix: ${more}, or use the alb router, whose target-group weights give exact shares`;
  const setting = `services.${service}.router.acceptShareDeviation`;
  if (args.accept) {
    return pass(GATE_NAMES.trafficShare, `WARNING: ${problems}; accepted by ${setting}; ${fix}. ${head}`);
  }
  return fail(
    GATE_NAMES.trafficShare,
    `${problems}; ${fix}; or accept the deviation with ${setting}: true. ${head}`,
  );
}

// ---- the settings later states read --------------------------------------------------------------

/** What the state machine needs to know about this release's runbook (Choices and timeouts). */
export interface RunbookSettings {
  readonly approvalRequired: boolean;
  readonly approvalTimeoutSeconds: number;
  readonly holdTimeoutSeconds: number;
  /** Phases with a test Job. */
  readonly tests: Readonly<Record<PhaseName, boolean>>;
  readonly migrateBefore: boolean;
  readonly migrateAfter: boolean;
  /** A migration with a database: snapshot it first. */
  readonly snapshot: boolean;
}

/** The runbook settings of a release (pure). Approval is required unless the service says `approval: false`. */
export function runbookSettings(
  svc: ServiceConfig,
  input: Pick<ExecutionInput, 'migration'>,
): RunbookSettings {
  const m = input.migration;
  return {
    approvalRequired: svc.approval !== false,
    approvalTimeoutSeconds: svc.approvalTimeoutSeconds ?? RUNBOOK.approvalTimeoutSeconds,
    holdTimeoutSeconds: svc.holdTimeoutSeconds ?? RUNBOOK.holdTimeoutSeconds,
    tests: Object.fromEntries(PHASE_NAMES.map((p) => [p, svc.tests?.[p] !== undefined])) as Record<
      PhaseName,
      boolean
    >,
    migrateBefore: m?.when === 'before',
    migrateAfter: m?.when === 'after',
    snapshot: m?.database !== undefined,
  };
}

/**
 * The tests attestation came from the pipeline action the catalog requires, as CodePipeline
 * recorded it: that action execution exists in that pipeline's execution, is that action,
 * succeeded, and exported (its output variables, {@link TESTS_OUTPUT_VARIABLES}) that its tests
 * passed (`TPS_TESTS_PASSED` is exactly `true`) for the image this release deploys (`TPS_IMAGE`
 * equals every image of the release plan). A build action succeeds when its tests fail (the
 * example's writer records the refusal instead), so success alone vouches for nothing, and the
 * image ties the action execution to this release: an older action execution vouches for its own
 * image only.
 *
 * The image comparison is on the exact string: no tag or digest normalisation, no registry
 * defaults. `repo/api:v2@sha256:…` and `repo/api@sha256:…` (the same digest) differ, as do
 * `repo/api:v2` and `repo/api:v2@sha256:…`; release the image as the build exported it.
 *
 * `found` is CodePipeline's record (null: the execution has no such action execution); `images`
 * is the release plan's new image per container. Every problem is named, with what was found.
 */
export function judgeTestsProvenance(
  required: { readonly pipeline: string; readonly action: string },
  claimed: { readonly pipelineExecutionId: string; readonly actionExecutionId: string },
  found: PipelineActionExecution | null,
  images: Readonly<Record<string, string>>,
): GateJudgment {
  const where = `pipeline ${required.pipeline} execution ${claimed.pipelineExecutionId}`;
  if (!found) {
    return fail(
      GATE_NAMES.testsProvenance,
      `CodePipeline has no action execution ${claimed.actionExecutionId} in ${where}: the attestation names a run that did not happen there`,
    );
  }
  const problems: string[] = [];
  if (found.actionName !== required.action) {
    problems.push(`it is action "${found.actionName}", not "${required.action}"`);
  }
  if (found.status !== 'Succeeded') problems.push(`its status is ${found.status}, not Succeeded`);
  const vars = found.outputVariables;
  const { testsPassed: passedVar, image: imageVar } = TESTS_OUTPUT_VARIABLES;
  const verdict = Object.hasOwn(vars, passedVar) ? vars[passedVar] : undefined;
  const tested = Object.hasOwn(vars, imageVar) ? vars[imageVar] : undefined;
  if (verdict === undefined) problems.push(`it has no output variable ${passedVar}`);
  else if (verdict !== 'true') problems.push(`its output variable ${passedVar} is "${verdict}", not "true"`);
  if (tested === undefined) problems.push(`it has no output variable ${imageVar}`);
  else {
    const several = Object.keys(images).length > 1;
    for (const [container, image] of Object.entries(images)) {
      if (image === tested) continue;
      problems.push(
        `its output variable ${imageVar} is "${tested}", not the released image "${image}"${several ? ` (container ${container})` : ''}`,
      );
    }
  }
  const seen = `action execution ${claimed.actionExecutionId} in ${where} (${found.stageName}/${found.actionName}, ${found.status}${found.lastUpdateTime ? ` at ${found.lastUpdateTime}` : ''})`;
  return problems.length > 0
    ? fail(GATE_NAMES.testsProvenance, `${seen}: ${problems.join('; ')}`)
    : pass(
        GATE_NAMES.testsProvenance,
        `CodePipeline recorded ${seen}: ${passedVar}=${verdict}, ${imageVar}=${tested}`,
      );
}
