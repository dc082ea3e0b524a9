import type { TaskPayload, TaskReads } from '../contract/io.js';
import type { TaskKey, TokenTask } from '../contract/tasks.js';
import type { ReleasePorts } from '../ports/release.js';
import { handleAlarm } from './alarm.js';
import { recordApproval, rejectRelease, requestApproval } from './approval.js';
import { beginRelease, validateInput } from './begin.js';
import { completeRelease, failRelease, finalizeRelease } from './finish.js';
import { checkGates, recheckGates } from './gates.js';
import { holdRelease, recordHoldDecision } from './hold.js';
import { checkTests, startTests } from './jobs.js';
import {
  checkMigration,
  checkMigrationRollback,
  checkSnapshot,
  declareMajorIncident,
  snapshotDatabase,
  startMigration,
  startMigrationRollback,
} from './migration.js';
import { rollBackFromStateMachine } from './rollback.js';
import { checkReadiness, shiftTraffic } from './shift.js';
import { handleStoppedOrPersonRollback } from './steer.js';
import { validateWindow } from './validate.js';
import { standDown, startWatch } from './watch.js';

/**
 * A step as its task's contract (functions/contract/io.ts) needs it: it accepts the payload the
 * state machine sends and returns at least the fields the state machine reads. The Lambda return
 * of a `.waitForTaskToken` task is not what the state reads (a person's answer is), so it is free.
 */
export type Step<K extends TaskKey> = (
  ports: ReleasePorts,
  event: TaskPayload<K>,
) => Promise<StepReturn<K>> | StepReturn<K>;
type StepReturn<K extends TaskKey> = K extends TokenTask ? unknown : TaskReads<K>;

/** The step code behind each task function: used by the Lambda handlers and the local runner alike. */
export const STEPS: { readonly [K in TaskKey]: Step<K> } = {
  validateInput,
  beginRelease,
  shiftTraffic,
  checkReadiness,
  validateWindow,
  finalize: finalizeRelease,
  completeRelease,
  rollBack: rollBackFromStateMachine,
  failRelease,
  alarmRollback: handleAlarm,
  executionStopped: handleStoppedOrPersonRollback,
  checkGates,
  recheckGates,
  requestApproval,
  recordApproval,
  rejectRelease,
  holdRelease,
  recordHoldDecision,
  startTests,
  checkTests,
  snapshotDatabase,
  checkSnapshot,
  startMigration,
  checkMigration,
  startMigrationRollback,
  checkMigrationRollback,
  declareMajorIncident,
  startWatch,
  standDown,
};

/**
 * Runs task `task`'s step on an event whose shape only the step can check (a Lambda event, a
 * payload the local runner built from the synthesized ASL): the one untyped door into {@link STEPS}.
 */
export function runStep(task: TaskKey, ports: ReleasePorts, event: unknown): Promise<unknown> {
  const step = STEPS[task] as (ports: ReleasePorts, event: unknown) => unknown;
  return Promise.resolve(step(ports, event));
}
