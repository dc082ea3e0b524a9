import { z } from 'zod';
import { type Catalog, toFieldIssues } from '../domain/config.js';
import { InvalidInputError } from '../domain/errors.js';
import {
  type DeploymentRecord,
  EXECUTION_STOPPED_TRIGGERS,
  STATE_MACHINE_TRIGGER,
} from '../domain/record.js';
import { addEvent } from '../domain/record-transitions.js';
import type { ReleasePorts } from '../ports/release.js';
import { performRollback } from './rollback.js';

/**
 * EventBridge "Step Functions Execution Status Change" (AWS Step Functions developer guide,
 * "Automating Step Functions event delivery with EventBridge").
 */
export const executionStatusEventSchema = z.object({
  'detail-type': z.literal('Step Functions Execution Status Change'),
  source: z.literal('aws.states'),
  detail: z.object({
    executionArn: z.string().min(1),
    stateMachineArn: z.string().min(1),
    name: z.string().min(1),
    status: z.enum(['RUNNING', 'SUCCEEDED', 'FAILED', 'TIMED_OUT', 'ABORTED', 'PENDING_REDRIVE']),
    /** Epoch milliseconds; with the ARN, which execution this is (a name may be reused). */
    startDate: z.number().nullable().optional(),
    stopDate: z.number().nullable().optional(),
    cause: z.string().nullable().optional(),
    error: z.string().nullable().optional(),
  }),
});

/**
 * How an execution can end with its release still RUNNING in the record. FAILED is the "Roll Back"
 * task itself failing (e.g. the deployments table unreachable for longer than its retries): the
 * Lambda's retries of the failed invocation (twice, minutes apart) run the rollback again once the
 * table answers; after that the event waits in the alarmed dead-letter queue for a person.
 */
const STOPPED_HOW = {
  ABORTED: { how: 'stopped by a person', trigger: EXECUTION_STOPPED_TRIGGERS.ABORTED },
  TIMED_OUT: { how: 'timed out', trigger: EXECUTION_STOPPED_TRIGGERS.TIMED_OUT },
  FAILED: { how: 'failed without finishing its rollback', trigger: EXECUTION_STOPPED_TRIGGERS.FAILED },
} as const;

/**
 * Whether the status event is about the execution that wrote `record`: the same ARN and, where
 * both are known, the same start (a name reused after 90 days has the same ARN).
 */
function isEventOf(
  record: DeploymentRecord,
  detail: { readonly executionArn: string; readonly startDate?: number | null | undefined },
): boolean {
  if (record.executionArn !== null && record.executionArn !== detail.executionArn) return false;
  if (!record.executionStartedAt || detail.startDate === null || detail.startDate === undefined) return true;
  return Date.parse(record.executionStartedAt) === detail.startDate;
}

/**
 * The service whose release state machine `stateMachineArn` is (`<appName>-<service>`), or null
 * when it is not one of this app's.
 */
export function serviceOfStateMachine(
  catalog: Pick<Catalog, 'appName' | 'services'>,
  stateMachineArn: string,
): string | null {
  const machineName = stateMachineArn.split(':').at(-1) ?? '';
  const prefix = `${catalog.appName}-`;
  const service = machineName.startsWith(prefix) ? machineName.slice(prefix.length) : '';
  return Object.hasOwn(catalog.services, service) ? service : null;
}

export interface StoppedOutcome {
  readonly action: 'rolled-back' | 'nothing-to-do' | 'ignored';
  readonly service: string | null;
  readonly deploymentId: string;
  readonly detail: string;
}

/**
 * An execution was stopped by a person (console, CLI, API) or timed out. Step Functions runs no
 * Catch then, so this is the cleanup path: a release still RUNNING in the record is rolled back
 * to the recorded version with the same code as every other rollback, and the record says who
 * stopped it. A release that already ended (or an alarm rollback that stopped it) is left alone:
 * the rollback claim admits one recorder.
 */
export async function handleExecutionStopped(ports: ReleasePorts, raw: unknown): Promise<StoppedOutcome> {
  const parsed = executionStatusEventSchema.safeParse(raw);
  if (!parsed.success) throw new InvalidInputError(toFieldIssues(parsed.error), 'execution status event');
  const { detail } = parsed.data;
  const deploymentId = detail.name;
  if (detail.status !== 'ABORTED' && detail.status !== 'TIMED_OUT' && detail.status !== 'FAILED') {
    return { action: 'ignored', service: null, deploymentId, detail: `status ${detail.status}` };
  }
  const service = serviceOfStateMachine(ports.catalog, detail.stateMachineArn);
  if (service === null) {
    return {
      action: 'ignored',
      service: null,
      deploymentId,
      detail: `${detail.stateMachineArn.split(':').at(-1) ?? ''} is not a release state machine`,
    };
  }
  const record = await ports.store.get(service, deploymentId);
  if (record && !isEventOf(record, detail)) {
    // A reused execution name (or a refused duplicate): the record belongs to another execution,
    // which this event must never roll back.
    return {
      action: 'ignored',
      service,
      deploymentId,
      detail: `the record ${deploymentId} belongs to execution ${record.executionArn ?? 'unknown'} started ${record.executionStartedAt ?? 'at an unknown time'}, not to the one that ended`,
    };
  }
  if (record?.outcome !== 'RUNNING') {
    // The release ended, but its execution did not finish (a terminal step that wrote the outcome
    // and then failed to free the lock): free it now. Conditional on this release holding it.
    await ports.store.release(service, deploymentId);
    const holder = await ports.store.active(service);
    if (record && holder && holder.deploymentId !== deploymentId) {
      addEvent(
        record,
        ports.clock.now(),
        `status change ${detail.status} of its execution delivered late, while ${holder.deploymentId} holds the service: nothing done`,
      );
      await ports.store.put(record).catch(() => undefined);
    }
    return {
      action: 'nothing-to-do',
      service,
      deploymentId,
      detail: record ? `release already ended ${record.outcome}` : 'no record (stopped before the gates)',
    };
  }
  const { how, trigger } = STOPPED_HOW[detail.status];
  const result = await performRollback(ports, {
    service,
    deploymentId,
    trigger,
    reason: `execution ${how}${detail.cause ? `: ${detail.cause}` : ''}; restored the recorded version`,
    phase: null,
    // FAILED: the execution's own "Roll Back" returned (it failed), so its claim is dead and
    // passes to this cleanup. ABORTED/TIMED_OUT: a running "Roll Back" Lambda is not stopped with
    // the execution, so its claim stands and it records the rollback itself.
    ...(detail.status === 'FAILED' ? { takeOverFrom: STATE_MACHINE_TRIGGER } : {}),
  });
  return result.claimed
    ? { action: 'rolled-back', service, deploymentId, detail: result.reason }
    : {
        action: 'nothing-to-do',
        service,
        deploymentId,
        detail: 'another caller holds the rollback and records it; restored the recorded version again',
      };
}
