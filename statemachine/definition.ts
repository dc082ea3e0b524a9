import { Duration } from 'aws-cdk-lib';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import type { Construct } from 'constructs';
import { TASKS, type TaskKey } from '../functions/contract/tasks.js';
import { PHASE_NAMES, type PhaseName, RUNBOOK } from '../functions/domain/defaults.js';
import { ERROR_NAMES, TRANSIENT_ERRORS } from '../functions/domain/errors.js';
import { STATE_MACHINE_TRIGGER } from '../functions/domain/record.js';

/** What the definition needs from the stack. */
export interface ReleaseDefinitionProps {
  /** One function per task. */
  readonly functions: Readonly<Record<TaskKey, IFunction>>;
  /** Phase weights of the service, only for the state names ("Shift 10% To Canary"). */
  readonly weights: Readonly<Record<PhaseName, number>>;
  /** Seconds between readiness checks. */
  readonly readinessPollSeconds: number;
}

const title = (p: PhaseName) => p.charAt(0).toUpperCase() + p.slice(1);

/**
 * The runbook as a state machine (JSONPath only: aws-local-stepfunctions ignores JSONata).
 * No SDK calls live here; every action is a task function.
 *
 * ```
 * Validate Input -> Check Gates -> Gates Passed? -> [Request Approval -> Record Approval]
 *   -> Record Rollback Plan -> [migration before the deploy]
 *   -> per phase: Shift -> readiness loop -> [Start Tests] -> Validation Window -> [Check Tests loop]
 *      -> Validate -> Verdict? (hold | pass | fail | extend | fail safe) [-> Hold At <Phase>]
 *   -> Clean Up -> [migration after the deploy] -> Start Watch -> Post-Deployment Watch
 *   -> Stand Down -> Complete Release -> Released
 * ```
 *
 * State shape: `$` keeps the raw input; `$.plan` (the validated release plan), `$.gates` (gate
 * results and the settings the Choices read), `$.approval`, `$.traffic`, `$.readiness`,
 * `$.verdicts.<phase>`, `$.tests.<phase>`, `$.holds.<phase>`, `$.snapshot`, `$.migration`,
 * `$.migrationRollback`, `$.watch` and `$.failure` are added as the release goes.
 */
export function buildReleaseDefinition(scope: Construct, props: ReleaseDefinitionProps): sfn.IChainable {
  const retryTransient = (t: tasks.LambdaInvoke) =>
    t.addRetry({
      errors: [...TRANSIENT_ERRORS],
      interval: Duration.seconds(2),
      maxAttempts: 4,
      backoffRate: 2,
      maxDelay: Duration.seconds(30),
      jitterStrategy: sfn.JitterType.FULL,
    });
  const invoke = (
    id: string,
    task: TaskKey,
    payload: Record<string, unknown>,
    resultPath: string | undefined,
  ): tasks.LambdaInvoke => {
    const t = new tasks.LambdaInvoke(scope, id, {
      lambdaFunction: props.functions[task],
      payload: sfn.TaskInput.fromObject(payload),
      payloadResponseOnly: true,
      resultPath: resultPath ?? sfn.JsonPath.DISCARD,
      taskTimeout: sfn.Timeout.duration(Duration.seconds(TASKS[task].timeoutSeconds + 5)),
      comment: `task ${task}`,
    });
    retryTransient(t);
    return t;
  };
  /**
   * A task that waits for a person: its function stores the task token (and says how to answer);
   * the state ends when someone calls SendTaskSuccess/SendTaskFailure, or with States.Timeout
   * after the number of seconds at `timeoutPath`. The function also receives that number.
   */
  const waitForPerson = (
    id: string,
    task: TaskKey,
    payload: Record<string, unknown>,
    resultPath: string,
    timeoutPath: string,
  ): tasks.LambdaInvoke => {
    const t = new tasks.LambdaInvoke(scope, id, {
      lambdaFunction: props.functions[task],
      integrationPattern: sfn.IntegrationPattern.WAIT_FOR_TASK_TOKEN,
      payload: sfn.TaskInput.fromObject({
        ...payload,
        taskToken: sfn.JsonPath.taskToken,
        'timeoutSeconds.$': timeoutPath,
      }),
      resultPath,
      taskTimeout: sfn.Timeout.at(timeoutPath),
      comment: `task ${task}`,
    });
    retryTransient(t);
    return t;
  };
  const plan = { 'plan.$': '$.plan' };
  const poll = (id: string, seconds: number) =>
    new sfn.Wait(scope, id, { time: sfn.WaitTime.duration(Duration.seconds(seconds)) });

  // ---- end states -------------------------------------------------------------------------
  const released = new sfn.Succeed(scope, 'Released', { comment: 'New version serves 100% of traffic.' });
  const rolledBack = new sfn.Fail(scope, 'Rolled Back', {
    error: ERROR_NAMES.releaseRolledBack,
    causePath: '$.rollback.reason',
  });
  const rollbackFailed = new sfn.Fail(scope, 'Rollback Failed', {
    error: ERROR_NAMES.rollbackFailed,
    cause: 'Rolling back did not reach the recorded state; a person is paged.',
  });
  const releaseFailed = new sfn.Fail(scope, 'Release Failed', {
    error: ERROR_NAMES.releaseFailed,
    causePath: '$.failed.reason',
  });
  const gatesFailed = new sfn.Fail(scope, 'Gates Failed', {
    error: ERROR_NAMES.gateFailed,
    causePath: '$.gates.summary',
  });
  const releaseRejected = new sfn.Fail(scope, 'Release Rejected', {
    error: ERROR_NAMES.releaseRejected,
    causePath: '$.failed.reason',
  });
  const majorIncident = new sfn.Fail(scope, 'Major Incident', {
    error: ERROR_NAMES.majorIncident,
    cause:
      'The migration and its rollback Job both failed: the schema is in an unknown state. Nothing more was changed; people are paged.',
  });

  const rollBack = invoke(
    'Roll Back',
    'rollBack',
    { ...plan, 'failure.$': '$.failure', trigger: STATE_MACHINE_TRIGGER },
    '$.rollback',
  );
  rollBack.addCatch(rollbackFailed, { errors: [ERROR_NAMES.statesAll], resultPath: '$.rollbackError' });
  rollBack.next(rolledBack);

  const failRelease = invoke(
    'Mark Release Failed',
    'failRelease',
    { ...plan, 'failure.$': '$.failure' },
    '$.failed',
  );
  failRelease.next(releaseFailed);

  /** Every task after the record step rolls back on any error it cannot retry. */
  const catchToRollback = (t: tasks.LambdaInvoke) => {
    t.addCatch(rollBack, { errors: [ERROR_NAMES.statesAll], resultPath: '$.failure' });
    return t;
  };
  /** Before any cluster change, an error marks the release failed (and releases the lock). */
  const catchToFailed = (t: tasks.LambdaInvoke) => {
    t.addCatch(failRelease, { errors: [ERROR_NAMES.statesAll], resultPath: '$.failure' });
    return t;
  };
  const failurePass = (id: string, phase: PhaseName | 'cleanup' | null, error: string, causePath: string) =>
    new sfn.Pass(scope, id, {
      parameters: { Error: error, 'Cause.$': causePath, ...(phase ? { phase } : {}) },
      resultPath: '$.failure',
    }).next(rollBack);

  // ---- start: input, gates, approval --------------------------------------------------------
  const validateInput = invoke(
    'Validate Input',
    'validateInput',
    { 'input.$': '$', 'executionName.$': '$$.Execution.Name', 'executionArn.$': '$$.Execution.Id' },
    '$.plan',
  );
  // An invalid input fails the execution here with InvalidInputError: nothing was written.

  const checkGates = invoke(
    'Check Gates',
    'checkGates',
    { ...plan, 'executionArn.$': '$$.Execution.Id' },
    '$.gates',
  );
  // DeploymentInProgressError is not caught: the execution fails fast and changes nothing.
  checkGates.addCatch(failRelease, {
    errors: [
      ERROR_NAMES.notFound,
      ERROR_NAMES.storeUnavailable,
      ERROR_NAMES.kubernetesTransient,
      ERROR_NAMES.awsTransient,
      ERROR_NAMES.config,
    ],
    resultPath: '$.failure',
  });

  const beginRelease = invoke(
    'Record Rollback Plan',
    'beginRelease',
    { ...plan, 'executionArn.$': '$$.Execution.Id' },
    '$.recorded',
  );
  beginRelease.addCatch(failRelease, {
    errors: [
      ERROR_NAMES.notFound,
      ERROR_NAMES.storeUnavailable,
      ERROR_NAMES.kubernetesTransient,
      ERROR_NAMES.config,
    ],
    resultPath: '$.failure',
  });

  const requestApproval = waitForPerson(
    'Request Approval',
    'requestApproval',
    plan,
    '$.approval',
    '$.gates.settings.approvalTimeoutSeconds',
  );
  const markRejected = catchToFailed(
    invoke(
      'Mark Release Rejected',
      'rejectRelease',
      {
        ...plan,
        'error.$': '$.approvalError',
        'timeoutSeconds.$': '$.gates.settings.approvalTimeoutSeconds',
      },
      '$.failed',
    ),
  );
  // Rejected (ApprovalRejected) or unanswered (States.Timeout): REJECTED; anything else: FAILED.
  requestApproval.addCatch(markRejected, { errors: [ERROR_NAMES.statesAll], resultPath: '$.approvalError' });
  markRejected.next(
    new sfn.Choice(scope, 'Rejected?')
      .when(sfn.Condition.stringEquals('$.failed.outcome', 'REJECTED'), releaseRejected)
      .otherwise(releaseFailed),
  );
  const recordApproval = catchToFailed(
    invoke('Record Approval', 'recordApproval', { ...plan, 'answer.$': '$.approval' }, '$.approvalRecorded'),
  );
  requestApproval.next(recordApproval);
  recordApproval.next(beginRelease);

  // ---- migrations ----------------------------------------------------------------------------
  /** Snapshot, migration Job, and on failure its rollback Job; `next` follows a good migration. */
  const migrationChain = (label: string, next: sfn.IChainable): sfn.IChainable => {
    const incident = invoke(`Declare Major Incident ${label}`, 'declareMajorIncident', plan, '$.incident');
    incident.addCatch(majorIncident, { errors: [ERROR_NAMES.statesAll], resultPath: '$.incidentError' });
    incident.next(majorIncident);

    const rollbackMigration = invoke(
      `Roll Back Migration ${label}`,
      'startMigrationRollback',
      plan,
      '$.migrationRollback',
    );
    rollbackMigration.addCatch(incident, {
      errors: [ERROR_NAMES.statesAll],
      resultPath: '$.migrationRollbackError',
    });
    const waitRollback = poll(`Wait For Migration Rollback ${label}`, RUNBOOK.migration.pollSeconds);
    const checkRollback = invoke(
      `Check Migration Rollback ${label}`,
      'checkMigrationRollback',
      plan,
      '$.migrationRollback',
    );
    checkRollback.addCatch(incident, {
      errors: [ERROR_NAMES.statesAll],
      resultPath: '$.migrationRollbackError',
    });
    rollbackMigration.next(waitRollback);
    waitRollback.next(checkRollback);
    checkRollback.next(
      new sfn.Choice(scope, `Migration Rollback Done ${label}?`)
        .when(
          sfn.Condition.stringEquals('$.migrationRollback.status', 'succeeded'),
          failurePass(
            `Migration Failed ${label}`,
            null,
            ERROR_NAMES.migrationFailed,
            '$.migrationRollback.summary',
          ),
        )
        .when(sfn.Condition.stringEquals('$.migrationRollback.status', 'failed'), incident)
        .otherwise(waitRollback),
    );

    const runMigration = catchToRollback(
      invoke(`Run Migration ${label}`, 'startMigration', plan, '$.migration'),
    );
    const waitMigration = poll(`Wait For Migration ${label}`, RUNBOOK.migration.pollSeconds);
    const checkMigration = catchToRollback(
      invoke(`Check Migration ${label}`, 'checkMigration', plan, '$.migration'),
    );
    runMigration.next(waitMigration);
    waitMigration.next(checkMigration);
    checkMigration.next(
      new sfn.Choice(scope, `Migration Done ${label}?`)
        .when(sfn.Condition.stringEquals('$.migration.status', 'succeeded'), next)
        .when(sfn.Condition.stringEquals('$.migration.status', 'failed'), rollbackMigration)
        .otherwise(waitMigration),
    );

    const snapshot = catchToRollback(
      invoke(`Snapshot Database ${label}`, 'snapshotDatabase', plan, '$.snapshot'),
    );
    const waitSnapshot = poll(`Wait For Snapshot ${label}`, RUNBOOK.migration.snapshotPollSeconds);
    const checkSnapshot = catchToRollback(
      invoke(`Check Snapshot ${label}`, 'checkSnapshot', plan, '$.snapshot'),
    );
    const snapshotReady = new sfn.Choice(scope, `Snapshot Available ${label}?`)
      .when(sfn.Condition.stringEquals('$.snapshot.status', 'available'), runMigration)
      .when(
        sfn.Condition.stringEquals('$.snapshot.status', 'failed'),
        failurePass(`Snapshot Failed ${label}`, null, ERROR_NAMES.snapshotFailed, '$.snapshot.reason'),
      )
      .otherwise(waitSnapshot);
    snapshot.next(snapshotReady);
    waitSnapshot.next(checkSnapshot);
    checkSnapshot.next(snapshotReady);

    return new sfn.Choice(scope, `Snapshot Database ${label}?`)
      .when(sfn.Condition.booleanEquals('$.gates.settings.snapshot', true), snapshot)
      .otherwise(runMigration);
  };

  // ---- the end: clean up, migration after, watch, stand down ----------------------------------
  const cleanUp = catchToRollback(invoke('Clean Up', 'finalize', plan, '$.cleanup'));
  const complete = invoke('Complete Release', 'completeRelease', plan, '$.completed');
  complete.next(released);
  const watchWait = new sfn.Wait(scope, 'Post-Deployment Watch', {
    time: sfn.WaitTime.secondsPath('$.plan.watchSeconds'),
  });
  const startWatch = invoke('Start Watch', 'startWatch', plan, '$.watch');
  // A record or notification problem must not roll back a release that is out: watch anyway.
  startWatch.addCatch(watchWait, { errors: [ERROR_NAMES.statesAll], resultPath: '$.watchError' });
  startWatch.next(watchWait);
  const standDown = invoke('Stand Down', 'standDown', plan, '$.standDown');
  standDown.addCatch(complete, { errors: [ERROR_NAMES.statesAll], resultPath: '$.standDownError' });
  watchWait.next(standDown);
  standDown.next(complete);
  cleanUp.next(
    new sfn.Choice(scope, 'Migrate After Deploy?')
      .when(
        sfn.Condition.booleanEquals('$.gates.settings.migrateAfter', true),
        migrationChain('After Deploy', startWatch),
      )
      .otherwise(startWatch),
  );

  // ---- phases -----------------------------------------------------------------------------
  const phaseEntry: Partial<Record<PhaseName, sfn.IChainable>> = {};
  // Build from the last phase backwards so each phase knows where a pass leads.
  let next: sfn.IChainable = cleanUp;
  for (const phase of [...PHASE_NAMES].reverse()) {
    const T = title(phase);
    const weight = props.weights[phase];
    const shift = catchToRollback(
      invoke(
        `Shift ${weight}% To ${T}`,
        'shiftTraffic',
        { ...plan, phase, 'weight.$': `$.plan.phases.${phase}.weight` },
        '$.traffic',
      ),
    );
    const pollPods = poll(`Wait For ${T} Pods`, props.readinessPollSeconds);
    const check = catchToRollback(
      invoke(
        `Check ${T} Pods Ready`,
        'checkReadiness',
        { ...plan, phase, 'since.$': '$.traffic.shiftedAt' },
        '$.readiness',
      ),
    );
    const window = new sfn.Wait(scope, `${T} Validation Window`, {
      time: sfn.WaitTime.secondsPath(`$.plan.phases.${phase}.windowSeconds`),
    });
    const validate = catchToRollback(
      invoke(
        `Validate ${T}`,
        'validateWindow',
        { ...plan, phase, 'windowStart.$': '$.readiness.readyAt' },
        `$.verdicts.${phase}`,
      ),
    );
    const extend = new sfn.Wait(scope, `Extend ${T} Window`, {
      time: sfn.WaitTime.secondsPath(`$.plan.phases.${phase}.extendedWindowSeconds`),
    });
    const failed = failurePass(
      `${T} Failed Validation`,
      phase,
      ERROR_NAMES.validationFailed,
      `$.verdicts.${phase}.summary`,
    );
    const inconclusive = failurePass(
      `${T} Inconclusive`,
      phase,
      ERROR_NAMES.validationInconclusive,
      `$.verdicts.${phase}.summary`,
    );
    const podsFailed = failurePass(`${T} Pods Failed`, phase, ERROR_NAMES.podsNotReady, '$.readiness.reason');

    // Test hooks: the Job starts with the window and is awaited before the verdict.
    const hasTests = sfn.Condition.booleanEquals(`$.gates.settings.tests.${phase}`, true);
    const startTests = catchToRollback(
      invoke(`Start ${T} Tests`, 'startTests', { ...plan, phase }, `$.tests.${phase}`),
    );
    startTests.next(window);
    const checkTests = catchToRollback(
      invoke(`Check ${T} Tests`, 'checkTests', { ...plan, phase }, `$.tests.${phase}`),
    );
    const pollTests = poll(`Wait For ${T} Tests`, RUNBOOK.tests.pollSeconds);
    pollTests.next(checkTests);
    checkTests.next(
      new sfn.Choice(scope, `${T} Tests Done?`)
        .when(sfn.Condition.stringEquals(`$.tests.${phase}.status`, 'done'), validate)
        .otherwise(pollTests),
    );

    shift.next(pollPods);
    pollPods.next(check);
    check.next(
      new sfn.Choice(scope, `${T} Pods Ready?`)
        .when(
          sfn.Condition.stringEquals('$.readiness.status', 'ready'),
          new sfn.Choice(scope, `${T} Has Tests?`).when(hasTests, startTests).otherwise(window),
        )
        .when(sfn.Condition.stringEquals('$.readiness.status', 'failed'), podsFailed)
        .otherwise(pollPods),
    );
    window.next(new sfn.Choice(scope, `${T} Tests Started?`).when(hasTests, checkTests).otherwise(validate));
    extend.next(validate);
    let onPass: sfn.IChainable = next;
    if (phase === 'canary') {
      // Hotfix mode skips staging.
      onPass = new sfn.Choice(scope, 'Hotfix: Skip Staging?')
        .when(sfn.Condition.booleanEquals('$.plan.phases.staging.skip', true), phaseEntry.production!)
        .otherwise(phaseEntry.staging!);
    }

    // A hold: wait for a person to promote (go on) or abort (roll back), at most the hold timeout.
    const holdAt = waitForPerson(
      `Hold At ${T}`,
      'holdRelease',
      { ...plan, phase, 'cause.$': `$.verdicts.${phase}.holdCause` },
      `$.holds.${phase}`,
      '$.gates.settings.holdTimeoutSeconds',
    );
    const promoted = catchToRollback(
      invoke(
        `Record ${T} Promotion`,
        'recordHoldDecision',
        { ...plan, phase, decision: 'promoted', 'answer.$': `$.holds.${phase}` },
        `$.holdDecisions.${phase}`,
      ),
    );
    promoted.next(onPass);
    const holdTimedOut = catchToRollback(
      invoke(
        `${T} Hold Timed Out`,
        'recordHoldDecision',
        { ...plan, phase, decision: 'timed-out', 'error.$': '$.holdError' },
        '$.failure',
      ),
    );
    holdTimedOut.next(rollBack);
    const holdAborted = catchToRollback(
      invoke(
        `${T} Hold Aborted`,
        'recordHoldDecision',
        { ...plan, phase, decision: 'aborted', 'error.$': '$.holdError' },
        '$.failure',
      ),
    );
    holdAborted.next(rollBack);
    holdAt.addCatch(holdTimedOut, { errors: [ERROR_NAMES.statesTimeout], resultPath: '$.holdError' });
    holdAt.addCatch(holdAborted, { errors: [ERROR_NAMES.statesAll], resultPath: '$.holdError' });
    holdAt.next(promoted);

    validate.next(
      new sfn.Choice(scope, `${T} Verdict?`)
        .when(sfn.Condition.booleanEquals(`$.verdicts.${phase}.hold`, true), holdAt)
        .when(sfn.Condition.stringEquals(`$.verdicts.${phase}.verdict`, 'pass'), onPass)
        .when(sfn.Condition.stringEquals(`$.verdicts.${phase}.verdict`, 'fail'), failed)
        .when(sfn.Condition.booleanEquals(`$.verdicts.${phase}.canExtend`, true), extend)
        .otherwise(inconclusive),
    );
    phaseEntry[phase] = shift;
    next = shift;
  }

  const afterRecord = new sfn.Choice(scope, 'Migrate Before Deploy?')
    .when(
      sfn.Condition.booleanEquals('$.gates.settings.migrateBefore', true),
      migrationChain('Before Deploy', phaseEntry.canary!),
    )
    .otherwise(phaseEntry.canary!);
  beginRelease.next(afterRecord);

  return validateInput
    .next(checkGates)
    .next(
      new sfn.Choice(scope, 'Gates Passed?')
        .when(sfn.Condition.booleanEquals('$.gates.passed', false), gatesFailed)
        .when(sfn.Condition.booleanEquals('$.gates.settings.approvalRequired', true), requestApproval)
        .otherwise(beginRelease),
    );
}
