import { Duration } from 'aws-cdk-lib';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import type { Construct } from 'constructs';
import { PHASE_NAMES, type PhaseName } from '../functions/domain/defaults.js';
import { ERROR_NAMES, TRANSIENT_ERRORS } from '../functions/domain/errors.js';
import { TASKS, type TaskKey } from './tasks.js';

/** What the definition needs from the stack. */
export interface ReleaseDefinitionProps {
  /** One function per task. */
  readonly functions: Readonly<Record<TaskKey, IFunction>>;
  /** Phase weights of the service, only for the state names ("Shift 10% To Canary"). */
  readonly weights: Readonly<Record<PhaseName, number>>;
  /** Seconds between readiness checks. */
  readonly readinessPollSeconds: number;
}

/** Final error of an execution whose release was rolled back (CodePipeline fails the action). */
export const ROLLED_BACK_ERROR = 'ReleaseRolledBack';
/** Final error of an execution whose rollback itself failed: page a person. */
export const ROLLBACK_FAILED_ERROR = 'RollbackFailed';
/** Final error of an execution that failed before any cluster change. */
export const RELEASE_FAILED_ERROR = 'ReleaseFailed';

const title = (p: PhaseName) => p.charAt(0).toUpperCase() + p.slice(1);

/**
 * The runbook as a state machine (JSONPath only: aws-local-stepfunctions ignores JSONata).
 * No SDK calls live here; every action is a task function.
 *
 * State shape: `$` keeps the raw input; `$.plan` (the validated release plan), `$.traffic`,
 * `$.readiness`, `$.verdicts.<phase>` and `$.failure` are added as the release goes.
 */
export function buildReleaseDefinition(scope: Construct, props: ReleaseDefinitionProps): sfn.IChainable {
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
    t.addRetry({
      errors: [...TRANSIENT_ERRORS],
      interval: Duration.seconds(2),
      maxAttempts: 4,
      backoffRate: 2,
      maxDelay: Duration.seconds(30),
      jitterStrategy: sfn.JitterType.FULL,
    });
    return t;
  };
  const plan = { 'plan.$': '$.plan' };

  // ---- end states -------------------------------------------------------------------------
  const released = new sfn.Succeed(scope, 'Released', { comment: 'New version serves 100% of traffic.' });
  const rolledBack = new sfn.Fail(scope, 'Rolled Back', {
    error: ROLLED_BACK_ERROR,
    causePath: '$.rollback.reason',
  });
  const rollbackFailed = new sfn.Fail(scope, 'Rollback Failed', {
    error: ROLLBACK_FAILED_ERROR,
    cause: 'Rolling back did not reach the recorded state; a person is paged.',
  });
  const releaseFailed = new sfn.Fail(scope, 'Release Failed', {
    error: RELEASE_FAILED_ERROR,
    causePath: '$.failed.reason',
  });

  const rollBack = invoke(
    'Roll Back',
    'rollBack',
    { ...plan, 'failure.$': '$.failure', trigger: 'state-machine' },
    '$.rollback',
  );
  rollBack.addCatch(rollbackFailed, { errors: ['States.ALL'], resultPath: '$.rollbackError' });
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
    t.addCatch(rollBack, { errors: ['States.ALL'], resultPath: '$.failure' });
    return t;
  };
  const failurePass = (id: string, phase: PhaseName | 'cleanup', error: string, causePath: string) =>
    new sfn.Pass(scope, id, {
      parameters: { Error: error, 'Cause.$': causePath, phase },
      resultPath: '$.failure',
    }).next(rollBack);

  // ---- start ------------------------------------------------------------------------------
  const validateInput = invoke(
    'Validate Input',
    'validateInput',
    { 'input.$': '$', 'executionName.$': '$$.Execution.Name', 'executionArn.$': '$$.Execution.Id' },
    '$.plan',
  );
  // An invalid input fails the execution here with InvalidInputError: nothing was written.

  const beginRelease = invoke(
    'Record Rollback Plan',
    'beginRelease',
    { ...plan, 'executionArn.$': '$$.Execution.Id' },
    '$.recorded',
  );
  // DeploymentInProgressError is not caught: the execution fails fast and changes nothing.
  beginRelease.addCatch(failRelease, {
    errors: [
      ERROR_NAMES.notFound,
      ERROR_NAMES.storeUnavailable,
      ERROR_NAMES.kubernetesTransient,
      ERROR_NAMES.config,
    ],
    resultPath: '$.failure',
  });

  // ---- phases -----------------------------------------------------------------------------
  const cleanUp = catchToRollback(invoke('Clean Up', 'finalize', plan, '$.cleanup'));
  const complete = invoke('Complete Release', 'completeRelease', plan, '$.completed');
  cleanUp.next(complete);
  complete.next(released);

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
    const poll = new sfn.Wait(scope, `Wait For ${T} Pods`, {
      time: sfn.WaitTime.duration(Duration.seconds(props.readinessPollSeconds)),
    });
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
      'ValidationFailed',
      `$.verdicts.${phase}.summary`,
    );
    const inconclusive = failurePass(
      `${T} Inconclusive`,
      phase,
      'ValidationInconclusive',
      `$.verdicts.${phase}.summary`,
    );
    const podsFailed = failurePass(`${T} Pods Failed`, phase, 'PodsNotReady', '$.readiness.reason');

    shift.next(poll);
    poll.next(check);
    check.next(
      new sfn.Choice(scope, `${T} Pods Ready?`)
        .when(sfn.Condition.stringEquals('$.readiness.status', 'ready'), window)
        .when(sfn.Condition.stringEquals('$.readiness.status', 'failed'), podsFailed)
        .otherwise(poll),
    );
    window.next(validate);
    extend.next(validate);
    let onPass: sfn.IChainable = next;
    if (phase === 'canary') {
      // Hotfix mode skips staging.
      onPass = new sfn.Choice(scope, 'Hotfix: Skip Staging?')
        .when(sfn.Condition.booleanEquals('$.plan.phases.staging.skip', true), phaseEntry.production!)
        .otherwise(phaseEntry.staging!);
    }
    validate.next(
      new sfn.Choice(scope, `${T} Verdict?`)
        .when(sfn.Condition.stringEquals(`$.verdicts.${phase}.verdict`, 'pass'), onPass)
        .when(sfn.Condition.stringEquals(`$.verdicts.${phase}.verdict`, 'fail'), failed)
        .when(sfn.Condition.booleanEquals(`$.verdicts.${phase}.canExtend`, true), extend)
        .otherwise(inconclusive),
    );
    phaseEntry[phase] = shift;
    next = shift;
  }

  return validateInput.next(beginRelease).next(phaseEntry.canary!);
}
