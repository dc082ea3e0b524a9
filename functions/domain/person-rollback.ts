/**
 * The event the answer endpoint sends the rollback function (an asynchronous Invoke) for a
 * person's rollback: who (the verified ARN) asks to take which release back, and why. Pure: the
 * shape and its check; functions/release/steer.ts acts on it.
 */
import { z } from 'zod';
import type { PersonRollbackRequest } from '../ports/executions.js';

/** The `source` of a person's rollback event (never `aws.*`, which only AWS may send). */
export const PERSON_ROLLBACK_SOURCE = 'tps-deploy.answer-endpoint';
export const PERSON_ROLLBACK_DETAIL_TYPE = 'Person Rollback Request';

export const personRollbackEventSchema = z
  .object({
    source: z.literal(PERSON_ROLLBACK_SOURCE),
    'detail-type': z.literal(PERSON_ROLLBACK_DETAIL_TYPE),
    detail: z
      .object({
        service: z.string().min(1),
        deploymentId: z.string().regex(/^[A-Za-z0-9_-]{1,80}$/),
        principal: z.string().startsWith('arn:'),
        reason: z.string().max(1000).nullable(),
        kind: z.enum(['abort', 'rollback']),
      })
      .strict(),
  })
  .strict();

export type PersonRollbackEvent = z.output<typeof personRollbackEventSchema>;

/** The event for `request`. */
export function personRollbackEvent(request: PersonRollbackRequest): PersonRollbackEvent {
  return {
    source: PERSON_ROLLBACK_SOURCE,
    'detail-type': PERSON_ROLLBACK_DETAIL_TYPE,
    detail: {
      service: request.service,
      deploymentId: request.deploymentId,
      principal: request.principal,
      reason: request.reason,
      kind: request.kind,
    },
  };
}

/** Whether an event the rollback function received says it is a person's rollback. */
export function isPersonRollbackEvent(raw: unknown): boolean {
  return (
    raw !== null && typeof raw === 'object' && (raw as { source?: unknown }).source === PERSON_ROLLBACK_SOURCE
  );
}
