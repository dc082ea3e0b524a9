import type { TaskKey } from '../../statemachine/tasks.js';
import { handleAlarm } from './alarm.js';
import type { ReleasePorts } from './ports.js';
import {
  beginRelease,
  checkReadiness,
  completeRelease,
  failRelease,
  finalizeRelease,
  rollBackFromStateMachine,
  shiftTraffic,
  validateInput,
  validateWindow,
} from './steps.js';

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
};
