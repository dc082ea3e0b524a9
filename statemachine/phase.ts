/**
 * One traffic phase of the runbook: shift, wait for the new pods, the phase's test Job, the
 * validation window, the verdict (pass, fail, extend, fail safe) and a hold for a person.
 *
 * ```
 * Shift N% To <Phase> -> Wait For <Phase> Pods <-> Check <Phase> Pods Ready
 *   -> [Start <Phase> Tests] -> <Phase> Validation Window -> [Check <Phase> Tests loop]
 *   -> Validate <Phase> -> <Phase> Verdict? hold | pass | fail | extend | fail safe
 * ```
 */
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import type { Construct } from 'constructs';
import { field, present, STATE } from '../functions/contract/state.js';
import type { PhaseName } from '../functions/domain/defaults.js';
import { RUNBOOK } from '../functions/domain/defaults.js';
import { ERROR_NAMES } from '../functions/domain/errors.js';
import { capitalise } from '../functions/domain/text.js';
import type { Ends } from './ends.js';
import { type TaskStates, when } from './tasks.js';

/** What a phase needs to know about its surroundings. */
export interface PhaseProps {
  readonly phase: PhaseName;
  /** The phase's weight, only for the state name ("Shift 10% To Canary"). */
  readonly weight: number;
  readonly readinessPollSeconds: number;
  /** Where a passing verdict (or a promoted hold) leads. */
  readonly onPass: sfn.IChainable;
}

/** Builds the phase; returns its first state. */
export function buildPhase(
  scope: Construct,
  t: TaskStates,
  ends: Ends,
  props: PhaseProps,
): sfn.TaskStateBase {
  const { phase } = props;
  const T = capitalise(phase);
  const plan = STATE.plan;
  const phaseCfg = field(field(plan, 'phases'), phase);
  const verdict = STATE.verdict(phase);
  const settings = field(STATE.gates, 'settings');
  const readinessStatus = field(STATE.readiness, 'status');

  const shift = ends.catchToRollback(
    t.invoke(
      `Shift ${props.weight}% To ${T}`,
      'shiftTraffic',
      { plan, phase, weight: field(phaseCfg, 'weight') },
      STATE.traffic,
    ),
  );
  const pollPods = t.pause(`Wait For ${T} Pods`, props.readinessPollSeconds);
  const check = ends.catchToRollback(
    t.invoke(
      `Check ${T} Pods Ready`,
      'checkReadiness',
      { plan, phase, since: field(STATE.traffic, 'shiftedAt') },
      STATE.readiness,
    ),
  );
  const window = t.pauseFor(`${T} Validation Window`, field(phaseCfg, 'windowSeconds'));
  const validate = ends.catchToRollback(
    t.invoke(
      `Validate ${T}`,
      'validateWindow',
      // Only a "ready" answer leads here, and it carries readyAt.
      { plan, phase, windowStart: present(field(STATE.readiness, 'readyAt')) },
      verdict,
    ),
  );
  const extend = t.pauseFor(`Extend ${T} Window`, field(phaseCfg, 'extendedWindowSeconds'));
  const summary = field(verdict, 'summary');
  const failed = ends.failure(`${T} Failed Validation`, phase, ERROR_NAMES.validationFailed, summary);
  const inconclusive = ends.failure(`${T} Inconclusive`, phase, ERROR_NAMES.validationInconclusive, summary);
  const podsFailed = ends.failure(
    `${T} Pods Failed`,
    phase,
    ERROR_NAMES.podsNotReady,
    field(STATE.readiness, 'reason'),
  );

  // Test hooks: the Job starts with the window and is awaited before the verdict.
  const hasTests = when.isTrue(field(field(settings, 'tests'), phase));
  const startTests = ends.catchToRollback(
    t.invoke(`Start ${T} Tests`, 'startTests', { plan, phase }, STATE.tests(phase)),
  );
  startTests.next(window);
  const checkTests = ends.catchToRollback(
    t.invoke(`Check ${T} Tests`, 'checkTests', { plan, phase }, STATE.tests(phase)),
  );
  const pollTests = t.pause(`Wait For ${T} Tests`, RUNBOOK.tests.pollSeconds);
  pollTests.next(checkTests);
  checkTests.next(
    new sfn.Choice(scope, `${T} Tests Done?`)
      .when(when.equals(field(STATE.tests(phase), 'status'), 'done'), validate)
      .otherwise(pollTests),
  );

  shift.next(pollPods);
  pollPods.next(check);
  check.next(
    new sfn.Choice(scope, `${T} Pods Ready?`)
      .when(
        when.equals(readinessStatus, 'ready'),
        new sfn.Choice(scope, `${T} Has Tests?`).when(hasTests, startTests).otherwise(window),
      )
      .when(when.equals(readinessStatus, 'failed'), podsFailed)
      .otherwise(pollPods),
  );
  window.next(new sfn.Choice(scope, `${T} Tests Started?`).when(hasTests, checkTests).otherwise(validate));
  extend.next(validate);

  // A hold: wait for a person to promote (go on) or abort (roll back), at most the hold timeout.
  const holdAt = t.waitForPerson(
    `Hold At ${T}`,
    'holdRelease',
    { plan, phase, cause: field(verdict, 'holdCause') },
    STATE.hold(phase),
    field(settings, 'holdTimeoutSeconds'),
  );
  const promoted = ends.catchToRollback(
    t.invoke(
      `Record ${T} Promotion`,
      'recordHoldDecision',
      { plan, phase, decision: 'promoted', answer: STATE.hold(phase) },
      STATE.holdDecision(phase),
    ),
  );
  promoted.next(props.onPass);
  const holdEnded = (id: string, decision: 'timed-out' | 'aborted') => {
    const task = ends.catchToRollback(
      t.invoke(id, 'recordHoldDecision', { plan, phase, decision, error: STATE.holdError }, STATE.failure),
    );
    task.next(ends.rollBack);
    return task;
  };
  const holdTimedOut = holdEnded(`${T} Hold Timed Out`, 'timed-out');
  const holdAborted = holdEnded(`${T} Hold Aborted`, 'aborted');
  holdAt.addCatch(holdTimedOut, { errors: [ERROR_NAMES.statesTimeout], resultPath: STATE.holdError.path });
  holdAt.addCatch(holdAborted, { errors: [ERROR_NAMES.statesAll], resultPath: STATE.holdError.path });
  holdAt.next(promoted);

  validate.next(
    new sfn.Choice(scope, `${T} Verdict?`)
      .when(when.isTrue(field(verdict, 'hold')), holdAt)
      .when(when.equals(field(verdict, 'verdict'), 'pass'), props.onPass)
      .when(when.equals(field(verdict, 'verdict'), 'fail'), failed)
      .when(when.isTrue(field(verdict, 'canExtend')), extend)
      .otherwise(inconclusive),
  );
  return shift;
}
