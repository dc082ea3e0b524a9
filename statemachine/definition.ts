import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import type { Construct } from 'constructs';
import { CONTEXT, field, STATE } from '../functions/contract/state.js';
import type { TaskKey } from '../functions/contract/tasks.js';
import { PHASE_NAMES, type PhaseName } from '../functions/domain/defaults.js';
import { ERROR_NAMES } from '../functions/domain/errors.js';
import { buildEnds } from './ends.js';
import { buildMigration } from './migration.js';
import { buildPhase } from './phase.js';
import { TaskStates, when } from './tasks.js';

/** What the definition needs from the stack. */
export interface ReleaseDefinitionProps {
  /** One function per task. */
  readonly functions: Readonly<Record<TaskKey, IFunction>>;
  /** Phase weights of the service, only for the state names ("Shift 10% To Canary"). */
  readonly weights: Readonly<Record<PhaseName, number>>;
  /** Seconds between readiness checks. */
  readonly readinessPollSeconds: number;
}

/**
 * The runbook as a state machine (JSONPath only: aws-local-stepfunctions ignores JSONata).
 * No SDK calls live here; every action is a task function. The parts: the end states and failure
 * paths (ends.ts), one traffic phase (phase.ts), the migration chain (migration.ts); every payload
 * and path is typed by the contract in functions/contract/.
 *
 * ```
 * Validate Input -> Check Gates -> Gates Passed? -> [Request Approval -> Record Approval]
 *   -> Record Rollback Plan -> [migration before the deploy]
 *   -> Canary -> [Hotfix: Skip Staging?] -> Staging -> Production (phase.ts)
 *   -> Clean Up -> [migration after the deploy] -> Start Watch -> Post-Deployment Watch
 *   -> Stand Down -> Complete Release -> Released
 * ```
 */
export function buildReleaseDefinition(scope: Construct, props: ReleaseDefinitionProps): sfn.IChainable {
  const t = new TaskStates(scope, props.functions);
  const ends = buildEnds(scope, t);
  const plan = { plan: STATE.plan };
  const settings = field(STATE.gates, 'settings');

  // ---- start: input, gates, approval --------------------------------------------------------
  // An invalid input fails the execution here with InvalidInputError: nothing was written.
  const validateInput = t.invoke(
    'Validate Input',
    'validateInput',
    { input: STATE.input, executionName: CONTEXT.executionName, executionArn: CONTEXT.executionId },
    STATE.plan,
  );
  const checkGates = t.invoke(
    'Check Gates',
    'checkGates',
    {
      plan: STATE.plan,
      executionArn: CONTEXT.executionId,
      executionStartTime: CONTEXT.executionStartTime,
    },
    STATE.gates,
  );
  // DeploymentInProgressError is not caught: the execution fails fast and changes nothing.
  checkGates.addCatch(ends.failRelease, {
    errors: [
      ERROR_NAMES.notFound,
      ERROR_NAMES.storeUnavailable,
      ERROR_NAMES.kubernetesTransient,
      ERROR_NAMES.awsTransient,
      ERROR_NAMES.config,
    ],
    resultPath: STATE.failure.path,
  });
  const beginRelease = t.invoke(
    'Record Rollback Plan',
    'beginRelease',
    {
      plan: STATE.plan,
      executionArn: CONTEXT.executionId,
      executionStartTime: CONTEXT.executionStartTime,
    },
    STATE.recorded,
  );
  beginRelease.addCatch(ends.failRelease, {
    errors: [
      ERROR_NAMES.notFound,
      ERROR_NAMES.storeUnavailable,
      ERROR_NAMES.kubernetesTransient,
      ERROR_NAMES.config,
    ],
    resultPath: STATE.failure.path,
  });

  const approvalTimeout = field(settings, 'approvalTimeoutSeconds');
  const requestApproval = t.waitForPerson(
    'Request Approval',
    'requestApproval',
    plan,
    STATE.approval,
    approvalTimeout,
  );
  const markRejected = ends.catchToFailed(
    t.invoke(
      'Mark Release Rejected',
      'rejectRelease',
      { plan: STATE.plan, error: STATE.approvalError, timeoutSeconds: approvalTimeout },
      STATE.failed,
    ),
  );
  // Rejected (ApprovalRejected) or unanswered (States.Timeout): REJECTED; anything else: FAILED.
  requestApproval.addCatch(markRejected, {
    errors: [ERROR_NAMES.statesAll],
    resultPath: STATE.approvalError.path,
  });
  markRejected.next(
    new sfn.Choice(scope, 'Rejected?')
      .when(when.equals(field(STATE.failed, 'outcome'), 'REJECTED'), ends.releaseRejected)
      .otherwise(ends.releaseFailed),
  );
  const recordApproval = ends.catchToFailed(
    t.invoke(
      'Record Approval',
      'recordApproval',
      { plan: STATE.plan, answer: STATE.approval },
      STATE.approvalRecorded,
    ),
  );
  // The alarms, a freeze or the rota may have changed during the wait: judge them again.
  const recheckGates = ends.catchToFailed(t.invoke('Recheck Gates', 'recheckGates', plan, STATE.recheck));
  const recheckFailed = new sfn.Fail(scope, 'Gates Failed On Recheck', {
    error: ERROR_NAMES.gateFailed,
    causePath: field(STATE.recheck, 'summary').path,
  });
  requestApproval.next(recordApproval);
  recordApproval.next(recheckGates);
  recheckGates.next(
    new sfn.Choice(scope, 'Gates Still Passed?')
      .when(when.isFalse(field(STATE.recheck, 'passed')), recheckFailed)
      .otherwise(beginRelease),
  );

  // ---- the end: clean up, migration after, watch, stand down ----------------------------------
  const cleanUp = ends.catchToRollback(t.invoke('Clean Up', 'finalize', plan, STATE.cleanup));
  const complete = t.invoke('Complete Release', 'completeRelease', plan, STATE.completed);
  complete.next(ends.released);
  const watchWait = t.pauseFor('Post-Deployment Watch', field(STATE.plan, 'watchSeconds'));
  const startWatch = t.invoke('Start Watch', 'startWatch', plan, STATE.watch);
  // A record or notification problem must not roll back a release that is out: watch anyway.
  startWatch.addCatch(watchWait, { errors: [ERROR_NAMES.statesAll], resultPath: STATE.watchError.path });
  startWatch.next(watchWait);
  const standDown = t.invoke('Stand Down', 'standDown', plan, STATE.standDown);
  standDown.addCatch(complete, { errors: [ERROR_NAMES.statesAll], resultPath: STATE.standDownError.path });
  watchWait.next(standDown);
  standDown.next(complete);
  // A migration runs before or after the deploy, as the gates' settings say.
  const migrateIf = (flag: 'migrateBefore' | 'migrateAfter', label: string, next: sfn.IChainable) =>
    new sfn.Choice(scope, `Migrate ${label}?`)
      .when(when.isTrue(field(settings, flag)), buildMigration(scope, t, ends, label, next))
      .otherwise(next);
  cleanUp.next(migrateIf('migrateAfter', 'After Deploy', startWatch));

  // ---- phases, built from the last backwards so each knows where a pass leads --------------
  const phaseProps = (phase: PhaseName, onPass: sfn.IChainable) => ({
    phase,
    weight: props.weights[phase],
    readinessPollSeconds: props.readinessPollSeconds,
    onPass,
  });
  const [canary, staging, production] = PHASE_NAMES;
  const productionEntry = buildPhase(scope, t, ends, phaseProps(production, cleanUp));
  const stagingEntry = buildPhase(scope, t, ends, phaseProps(staging, productionEntry));
  // Hotfix mode skips staging.
  const afterCanary = new sfn.Choice(scope, 'Hotfix: Skip Staging?')
    .when(when.isTrue(field(field(field(STATE.plan, 'phases'), 'staging'), 'skip')), productionEntry)
    .otherwise(stagingEntry);
  const canaryEntry = buildPhase(scope, t, ends, phaseProps(canary, afterCanary));

  beginRelease.next(migrateIf('migrateBefore', 'Before Deploy', canaryEntry));

  return validateInput.next(checkGates).next(
    new sfn.Choice(scope, 'Gates Passed?')
      .when(when.isFalse(field(STATE.gates, 'passed')), ends.gatesFailed)
      .when(when.isTrue(field(settings, 'approvalRequired')), requestApproval)
      .otherwise(beginRelease),
  );
}
