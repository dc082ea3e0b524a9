import type { TaskKey } from '../../statemachine/tasks.js';
import type { ReleasePorts } from '../ports/release.js';
import { handleAlarm } from './alarm.js';
import { recordApproval, rejectRelease, requestApproval } from './approval.js';
import { beginRelease, validateInput } from './begin.js';
import { completeRelease, failRelease, finalizeRelease } from './finish.js';
import { checkGates } from './gates.js';
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
import { handleExecutionStopped } from './stopped.js';
import { validateWindow } from './validate.js';
import { standDown, startWatch } from './watch.js';

// biome-ignore lint/suspicious/noExplicitAny: each step validates or trusts its own event shape
type Step = (ports: ReleasePorts, event: any) => unknown;

/** The step code behind each task function: used by the Lambda handlers and the local runner alike. */
export const STEPS: Readonly<Record<TaskKey, Step>> = {
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
  executionStopped: handleExecutionStopped,
  checkGates,
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
