/** When a service's lock may be taken over (issue #13, section 2), table-driven. */
import { judgeHeldLock } from '../../functions/domain/lock.js';

describe('judgeHeldLock', () => {
  test.each([
    // record outcome, execution, action
    [null, 'RUNNING', 'refuse'],
    ['RUNNING', 'RUNNING', 'refuse'],
    ['SUCCEEDED', 'RUNNING', 'refuse'], // a Complete Release retry still running
    ['RUNNING', 'PENDING_REDRIVE', 'refuse'],
    ['SUCCEEDED', 'FAILED', 'take-over'], // Complete Release wrote SUCCEEDED, then failed to free it
    ['ROLLED_BACK', 'SUCCEEDED', 'take-over'],
    ['REJECTED', 'UNKNOWN', 'take-over'], // the record alone says it ended
    ['FAILED', 'ABORTED', 'take-over'],
    ['RUNNING', 'FAILED', 'refuse'], // not cleaned up: the cleanup or a person rolls it back first
    ['RUNNING', 'ABORTED', 'refuse'],
    ['RUNNING', 'TIMED_OUT', 'refuse'],
    ['RUNNING', 'UNKNOWN', 'refuse'],
    [null, 'FAILED', 'take-over'], // took the lock, failed before writing its record
    [null, 'UNKNOWN', 'refuse'],
  ] as const)('record %s, execution %s -> %s', (outcome, execution, action) => {
    expect(judgeHeldLock({ deploymentId: 'r1' }, outcome, execution).action).toBe(action);
  });

  test('a refused take-over of an unfinished release says how to finish it', () => {
    expect(judgeHeldLock({ deploymentId: 'r1' }, 'RUNNING', 'FAILED').why).toContain('tps-deploy abort r1');
  });
});
