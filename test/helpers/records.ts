/** A deployment record as `begin` writes it, for tests of what changes it (no store behind it). */
import type { DeploymentRecord } from '../../functions/domain/record.js';

/** The start of the record {@link runningRecord} builds. */
export const T0 = new Date('2026-12-01T10:00:00.000Z');

/** `s` seconds after {@link T0}. */
export const at = (s: number): Date => new Date(T0.getTime() + s * 1000);

/** A RUNNING release of service `api` from repo/api:v1 to v2, with `over` laid over it. */
export function runningRecord(over: Partial<DeploymentRecord> = {}): DeploymentRecord {
  return {
    deploymentId: 'd-1',
    service: 'api',
    executionArn: null,
    mode: 'standard',
    requestedBy: 'jane',
    changeRef: null,
    image: 'repo/api:v2',
    images: { api: 'repo/api:v2' },
    previousImage: 'repo/api:v1',
    previousImages: { api: 'repo/api:v1' },
    finalImage: null,
    startedAt: T0.toISOString(),
    endedAt: null,
    outcome: 'RUNNING',
    phases: [],
    rollback: null,
    events: [],
    ...over,
  };
}
