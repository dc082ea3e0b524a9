/**
 * The release's decisions, pure: what a validation window's outcome means for the state machine
 * (proceed, extend, hold, roll back, fail safe) and what an alarm does to the release it meets.
 * The steps gather the facts (functions/release/) and record what these decide; table-driven tests
 * in test/unit/decisions.test.ts need neither a cluster nor a table.
 */
import type { CheckResult, HoldState, Verdict } from './record.js';

/** Why a release holds after a validation. */
export type HoldCause = 'requested' | 'inconclusive';

/**
 * Whether a validation's outcome holds the release. A requested hold that has not been decided yet
 * holds a passing phase (a failing one still rolls back); a final inconclusive verdict holds when
 * the service asks for it (`holdOnInconclusive`).
 */
export function holdCause(args: {
  readonly verdict: Verdict;
  readonly canExtend: boolean;
  readonly hold: HoldState | null | undefined;
  readonly holdOnInconclusive: boolean;
}): HoldCause | null {
  if (args.verdict === 'pass' && args.hold && !args.hold.decision) return 'requested';
  if (args.verdict === 'inconclusive' && !args.canExtend && args.holdOnInconclusive) return 'inconclusive';
  return null;
}

/** What the state machine does after a window. */
export const NEXT_ACTIONS = {
  hold: 'hold for a person',
  proceed: 'proceed',
  rollBack: 'roll back',
  extend: 'extend the window',
  failSafe: 'fail safe: roll back',
} as const;
export type NextAction = keyof typeof NEXT_ACTIONS;

/** The pieces of one window's judgment the decision is composed of. */
export interface WindowFacts {
  /** The metrics judgment (functions/domain/analysis.ts). */
  readonly metrics: {
    readonly verdict: Verdict;
    readonly summary: string;
    readonly checks: readonly CheckResult[];
  };
  /** The new pods (functions/domain/pods.ts `podCheck`). */
  readonly pods: CheckResult;
  /** The phase's test Job, when one ran. */
  readonly tests: CheckResult | null;
  /** Windows of this phase judged before this one. */
  readonly attempt: number;
  /** Extensions the phase allows. */
  readonly maxExtensions: number;
  /** The record's hold and the service's `holdOnInconclusive`. */
  readonly hold: HoldState | null | undefined;
  readonly holdOnInconclusive: boolean;
}

/** A window's decision: the verdict and what follows. */
export interface ComposedDecision {
  readonly verdict: Verdict;
  readonly summary: string;
  readonly checks: readonly CheckResult[];
  readonly canExtend: boolean;
  readonly hold: HoldCause | null;
  readonly action: NextAction;
  /** The window closes the phase (every verdict but one the state machine will extend). */
  readonly closesPhase: boolean;
}

/**
 * Composes a window's decision: failing pods or a failing test Job fail the window whatever the
 * metrics say; an inconclusive window extends while extensions remain, then holds (when asked)
 * or fails safe; a requested hold holds a passing window.
 */
export function composeWindowDecision(f: WindowFacts): ComposedDecision {
  const podsFailed = f.pods.verdict === 'fail';
  const testsFailed = f.tests?.verdict === 'fail';
  const verdict: Verdict = podsFailed || testsFailed ? 'fail' : f.metrics.verdict;
  const summary = [
    ...(podsFailed ? [`new pods unhealthy (${f.pods.detail})`] : []),
    ...(testsFailed && f.tests ? [f.tests.detail] : []),
    f.metrics.summary,
  ].join('; ');
  const canExtend = verdict === 'inconclusive' && f.attempt < f.maxExtensions;
  const hold = holdCause({ verdict, canExtend, hold: f.hold, holdOnInconclusive: f.holdOnInconclusive });
  const action: NextAction =
    hold !== null
      ? 'hold'
      : verdict === 'pass'
        ? 'proceed'
        : verdict === 'fail'
          ? 'rollBack'
          : canExtend
            ? 'extend'
            : 'failSafe';
  return {
    verdict,
    summary,
    checks: [f.pods, ...(f.tests ? [f.tests] : []), ...f.metrics.checks],
    canExtend,
    hold,
    action,
    closesPhase: verdict !== 'inconclusive' || !canExtend,
  };
}

/** What an alarm state change does. */
export type AlarmDecision =
  | { readonly action: 'ignore'; readonly detail: string }
  | { readonly action: 'already-rolled-back'; readonly deploymentId: string; readonly detail: string }
  | {
      readonly action: 'notify';
      readonly why: string;
      /** The alarm changed state before the current release started: about an earlier one. */
      readonly late?: { readonly alarmAt: string; readonly current: string };
    }
  | { readonly action: 'roll-back'; readonly phase: 'watch' | null };

/** The facts an alarm decision needs; the handler reads only those the decision can use. */
export interface AlarmFacts {
  readonly alarmName: string;
  /** The new state (`ALARM`, `OK`, `INSUFFICIENT_DATA`). */
  readonly state: string;
  /** Its severity when it is one of this app's alarms; null otherwise. */
  readonly severity: 'critical' | 'warning' | null;
  readonly appName: string;
  /** The release holding the service's lock, if any, when it started, and its stage. */
  readonly active: {
    readonly deploymentId: string;
    readonly stage: 'releasing' | 'watching';
    /** When the release took the lock (ISO 8601). */
    readonly since: string;
  } | null;
  /** When the alarm's state changed (the event's `detail.state.timestamp`). */
  readonly alarmAt: string;
  /** With no active release: the release this very state change already rolled back, if any. */
  readonly alreadyRolledBack: string | null;
  /** With an active release: whether it has not changed the cluster yet (no rollback plan). */
  readonly untouched: boolean;
}

/**
 * - Not ALARM, or not one of this app's alarms: ignored.
 * - A critical alarm while nothing holds the service, that already rolled a release back: a
 *   duplicate delivery (EventBridge delivers at least once).
 * - A warning, any alarm while nothing is released or watched, or a release that has not touched
 *   the cluster (gates, approval: the alarm is about the version running): notify a person.
 * - A critical alarm whose state changed before the active release started (a late delivery, or
 *   a redelivery of an alarm about the previous release: EventBridge retries for up to a day):
 *   notify; it is not about this release.
 * - A critical alarm during a release or its watch: roll it back.
 */
export function decideAlarm(f: AlarmFacts): AlarmDecision {
  if (f.state !== 'ALARM') return { action: 'ignore', detail: `${f.alarmName} is ${f.state}` };
  if (f.severity === null) return { action: 'ignore', detail: `${f.alarmName} is not a ${f.appName} alarm` };
  if (f.severity === 'critical' && !f.active && f.alreadyRolledBack) {
    return { action: 'already-rolled-back', deploymentId: f.alreadyRolledBack, detail: '' };
  }
  if (!f.active) return { action: 'notify', why: 'no deployment is active' };
  if (f.severity !== 'critical') return { action: 'notify', why: `severity ${f.severity}` };
  if (f.untouched) {
    return { action: 'notify', why: `release ${f.active.deploymentId} has not changed the cluster yet` };
  }
  if (Date.parse(f.alarmAt) < Date.parse(f.active.since)) {
    return {
      action: 'notify',
      why: `the alarm's state changed at ${f.alarmAt}, before release ${f.active.deploymentId} started (${f.active.since})`,
      late: { alarmAt: f.alarmAt, current: f.active.deploymentId },
    };
  }
  return { action: 'roll-back', phase: f.active.stage === 'watching' ? 'watch' : null };
}

/** Whether a rollback of one release may act on the cluster. */
export type RollbackScope = { readonly act: true } | { readonly act: false; readonly why: string };

/**
 * A rollback of `deploymentId` acts on the cluster only while that release is the service's
 * current one: it holds the lock, or nobody holds it and it is the latest release (a person
 * taking the last release back). A rollback that arrives later (a redelivered alarm, a delayed
 * status-change event, a retried task) while another release holds the service, or after a later
 * release, would undo that release's work: it changes nothing.
 */
export function rollbackScope(
  deploymentId: string,
  lockHolder: string | null,
  latest: string | null,
): RollbackScope {
  if (lockHolder === deploymentId) return { act: true };
  if (lockHolder !== null) return { act: false, why: `release ${lockHolder} holds the service now` };
  if (latest === null || latest === deploymentId) return { act: true };
  return { act: false, why: `release ${latest} came after it` };
}
