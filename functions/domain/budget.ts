/**
 * How long a release of a service can take at the most, from its settings (pure): the execution
 * timeout of its state machine is this plus RUNBOOK.executionTimeoutMarginSeconds, so a release
 * that hangs ends (and CodePipeline fails the action) instead of waiting a year, while no release
 * that follows the runbook is cut short.
 *
 * The longest path: the approval wait; a snapshot and a migration with its rollback; per phase the
 * readiness deadline, the window and every extension, the test Job and a hold; then the watch
 * (the longer of the standard and the hotfix watch).
 */
import type { ServiceConfig } from './config.js';
import { resolvePhase } from './config.js';
import { PHASE_NAMES, RUNBOOK } from './defaults.js';
import type { ReleasePlan } from './input.js';

/** The longest a release of `svc` runs by its settings, in seconds, without the margin. */
export function longestReleaseSeconds(svc: ServiceConfig): number {
  const approval =
    svc.approval === false ? 0 : (svc.approvalTimeoutSeconds ?? RUNBOOK.approvalTimeoutSeconds);
  const hold = svc.holdTimeoutSeconds ?? RUNBOOK.holdTimeoutSeconds;
  const readiness = svc.readinessTimeoutSeconds ?? RUNBOOK.readinessTimeoutSeconds;
  const migration = RUNBOOK.migration.snapshotTimeoutSeconds + 2 * RUNBOOK.migration.timeoutSeconds;
  let phases = 0;
  for (const name of PHASE_NAMES) {
    const p = resolvePhase(svc, name);
    const window = Math.max(
      p.windowSeconds,
      name === 'canary' ? (svc.hotfix?.canaryWindowSeconds ?? RUNBOOK.hotfix.canaryWindowSeconds) : 0,
    );
    const tests = svc.tests?.[name] ? (svc.tests[name]?.timeoutSeconds ?? RUNBOOK.tests.timeoutSeconds) : 0;
    phases += readiness + window + p.extensions * p.extendedWindowSeconds + tests + hold;
  }
  const watch = Math.max(
    svc.watchSeconds ?? RUNBOOK.watchSeconds,
    svc.hotfix?.watchSeconds ?? RUNBOOK.hotfix.watchSeconds,
  );
  return approval + migration + phases + watch;
}

/** The execution timeout of `svc`'s state machine, in seconds: the longest release plus the margin. */
export function executionTimeoutSeconds(svc: ServiceConfig): number {
  return longestReleaseSeconds(svc) + RUNBOOK.executionTimeoutMarginSeconds;
}

/**
 * How long a release is expected to take as planned (no extension, hold or slow pod): its phases'
 * windows (staging skipped for a hotfix) and the post-deployment watch. The on-call gate asks that
 * someone is on call until then.
 */
export function expectedReleaseSeconds(plan: Pick<ReleasePlan, 'phases' | 'watchSeconds'>): number {
  const p = plan.phases;
  return (
    p.canary.windowSeconds +
    (p.staging.skip ? 0 : p.staging.windowSeconds) +
    p.production.windowSeconds +
    plan.watchSeconds
  );
}
