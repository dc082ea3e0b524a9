/**
 * The release a task event is about, for the functions' log lines: the one place that knows where
 * each task's event carries its service, deployment and phase.
 *
 * - most tasks: `plan` (service, deploymentId) and maybe `phase` ("Roll Back": `failure.phase`);
 * - validateInput: `input.service` and `executionName` (the deployment ID is the execution's name);
 * - alarmRollback: the service from the alarm's name; the deployment only once the lock is read,
 *   so it comes from the outcome ({@link withOutcomeKeys});
 * - executionStopped: the service from the state machine's name, the deployment from the
 *   execution's.
 */

import type { TaskKey } from '../contract/tasks.js';
import { parseAlarmName } from '../domain/alarms.js';
import type { Catalog } from '../domain/config.js';
import { serviceOfStateMachine } from './stopped.js';

/** Which release a log line is about; a key that is not known is left out of the line. */
export interface ReleaseKeys {
  readonly service?: string;
  readonly deploymentId?: string;
  readonly phase?: string;
}

type Json = Record<string, unknown>;

const obj = (v: unknown): Json => (v !== null && typeof v === 'object' ? (v as Json) : {});
const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

/** Only the keys that are known. */
function known(keys: ReleaseKeys): ReleaseKeys {
  return Object.fromEntries(Object.entries(keys).filter(([, v]) => v !== undefined)) as ReleaseKeys;
}

/** The release keys of one task's event, read defensively: a malformed event yields fewer keys, never an error. */
export function releaseKeysOf(
  task: TaskKey,
  event: unknown,
  catalog: Pick<Catalog, 'appName' | 'services'>,
): ReleaseKeys {
  const ev = obj(event);
  switch (task) {
    case 'validateInput':
      return known({ service: str(obj(ev.input).service), deploymentId: str(ev.executionName) });
    case 'alarmRollback': {
      const name = str(obj(ev.detail).alarmName);
      const match = name ? parseAlarmName(catalog.appName, name, Object.keys(catalog.services)) : null;
      return known({ service: match?.service });
    }
    case 'executionStopped': {
      const detail = obj(ev.detail);
      const arn = str(detail.stateMachineArn);
      return known({
        service: arn ? (serviceOfStateMachine(catalog, arn) ?? undefined) : undefined,
        deploymentId: str(detail.name),
      });
    }
    default: {
      const plan = obj(ev.plan);
      return known({
        service: str(plan.service),
        deploymentId: str(plan.deploymentId),
        phase: str(ev.phase) ?? str(obj(ev.failure).phase),
      });
    }
  }
}

/**
 * The keys completed by what the task answered: the alarm and execution-status functions name
 * the service and deployment they acted on (`{ service, deploymentId }` in their outcome).
 */
export function withOutcomeKeys(keys: ReleaseKeys, outcome: unknown): ReleaseKeys {
  const o = obj(outcome);
  return known({
    service: keys.service ?? str(o.service),
    deploymentId: keys.deploymentId ?? str(o.deploymentId),
    phase: keys.phase,
  });
}
