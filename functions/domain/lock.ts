/**
 * When a service's lock may be taken over (pure). The lock never expires on a timer: a release
 * may rightly run for a day. It may be taken over only when its holder has ended:
 *
 * 1. The holder's execution is running (or may be redriven): never.
 * 2. The holder's record has ended (SUCCEEDED, ROLLED_BACK, REJECTED, FAILED): its lock was left
 *    behind (a terminal step that wrote the outcome and then failed to free it). Take it over.
 * 3. The holder's execution has ended but its record still says RUNNING: the release was not
 *    cleaned up (the execution-status cleanup rolls it back; a person can with `abort`). Never:
 *    a new release on top of a half-done one would record the wrong rollback plan.
 * 4. The holder has no record (the lock is taken before the record is written, so it changed
 *    nothing) and its execution has ended: take it over.
 * 5. The execution's state is unknown (no ARN, no access): only the record can say it ended.
 */

/** A Step Functions execution's status, or UNKNOWN when it cannot be read. */
export type ExecutionState =
  | 'RUNNING'
  | 'SUCCEEDED'
  | 'FAILED'
  | 'TIMED_OUT'
  | 'ABORTED'
  | 'PENDING_REDRIVE'
  | 'UNKNOWN';

/** Whether the execution can still change anything. */
export function executionEnded(state: ExecutionState): boolean {
  return state === 'SUCCEEDED' || state === 'FAILED' || state === 'TIMED_OUT' || state === 'ABORTED';
}

/** What to do about a lock another release holds. */
export type HeldLockVerdict =
  | { readonly action: 'take-over'; readonly why: string }
  | { readonly action: 'refuse'; readonly why: string };

/** Judges the lock `holder` holds, from its record's outcome (null: no record) and its execution. */
export function judgeHeldLock(
  holder: { readonly deploymentId: string },
  recordOutcome: string | null,
  execution: ExecutionState,
): HeldLockVerdict {
  const id = holder.deploymentId;
  if (execution === 'RUNNING' || execution === 'PENDING_REDRIVE') {
    return { action: 'refuse', why: `${id} is being released (its execution is ${execution})` };
  }
  if (recordOutcome !== null && recordOutcome !== 'RUNNING') {
    return { action: 'take-over', why: `${id} ended ${recordOutcome} and left its lock behind` };
  }
  if (recordOutcome === 'RUNNING' && executionEnded(execution)) {
    return {
      action: 'refuse',
      why: `${id}'s execution ended ${execution} but its release is not rolled back yet (the execution-status cleanup does it; now: tps-deploy abort ${id})`,
    };
  }
  if (recordOutcome === null && executionEnded(execution)) {
    return { action: 'take-over', why: `${id}'s execution ended ${execution} before it wrote a record` };
  }
  return { action: 'refuse', why: `${id} holds the lock and is not known to have ended` };
}
