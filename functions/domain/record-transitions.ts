/**
 * The record's transitions, pure. Every change a step makes to a release's outcome, phases or
 * timeline goes through one of these, so the record reads the same whoever wrote it (the state
 * machine, the alarm function, the execution-status cleanup, a person through the CLI). Each takes
 * the record (plain mutable JSON, written back by the caller with the store's optimistic put) and
 * the time, and changes the record in place. Table-driven tests: test/unit/record-transitions.test.ts.
 */
import type { PhaseName } from './defaults.js';
import { podSummary, type WorkloadHealth } from './pods.js';
import type { DeploymentRecord, PhaseRecord, RollbackInfo, WindowDecision } from './record.js';

/** Appends to the record's timeline. */
export function addEvent(record: DeploymentRecord, at: Date, message: string): void {
  record.events.push({ at: at.toISOString(), message });
}

/** The phase's record, if the phase has started. */
export function phaseOf(record: DeploymentRecord, phase: PhaseName): PhaseRecord | undefined {
  return record.phases.find((p) => p.name === phase);
}

/** Opens the phase (once: a retried shift finds it open) and returns it. */
export function openPhase(record: DeploymentRecord, phase: PhaseName, weight: number, at: Date): PhaseRecord {
  const existing = phaseOf(record, phase);
  if (existing) return existing;
  const opened: PhaseRecord = {
    name: phase,
    weight,
    startedAt: at.toISOString(),
    endedAt: null,
    verdict: null,
    decisions: [],
    pods: null,
  };
  record.phases.push(opened);
  return opened;
}

/** The new pods' counts and summary on the phase. */
export function recordPods(pr: PhaseRecord, h: WorkloadHealth): void {
  pr.pods = { ready: h.ready, desired: h.desired, status: podSummary(h) };
}

/** Closes the phase as failed (its pods never became Ready, or failed). */
export function failPhase(pr: PhaseRecord, at: Date): void {
  pr.verdict = 'fail';
  pr.endedAt = at.toISOString();
}

/**
 * Adds a window's decision to its phase (opening the phase if a window is judged without a shift
 * on record), with the pods seen; a decision that closes the phase sets its verdict and end.
 */
export function recordDecision(
  record: DeploymentRecord,
  d: {
    readonly decision: WindowDecision;
    readonly weight: number;
    readonly windowStart: Date;
    readonly pods: WorkloadHealth;
    readonly closesPhase: boolean;
  },
  at: Date,
): PhaseRecord {
  const pr = openPhase(record, d.decision.phase, d.weight, d.windowStart);
  pr.decisions.push(d.decision);
  recordPods(pr, d.pods);
  if (d.closesPhase) {
    pr.verdict = d.decision.verdict;
    pr.endedAt = at.toISOString();
  }
  return pr;
}

/** Whether the release is still running (no outcome yet). */
export function isRunning(record: DeploymentRecord): boolean {
  return record.outcome === 'RUNNING';
}

/** The release is out: SUCCEEDED. */
export function markSucceeded(record: DeploymentRecord, at: Date): void {
  record.outcome = 'SUCCEEDED';
  record.endedAt = at.toISOString();
  addEvent(record, at, 'released: the new version serves 100% of traffic');
}

/** FAILED before any cluster change; false (nothing changed) when the release already ended. */
export function markFailed(record: DeploymentRecord, at: Date, reason: string): boolean {
  if (!isRunning(record)) return false;
  record.outcome = 'FAILED';
  record.endedAt = at.toISOString();
  addEvent(record, at, `failed before any cluster change: ${reason}`);
  return true;
}

/** What a rollback did, for the record. */
export interface RollbackFacts {
  readonly trigger: string;
  readonly reason: string;
  /** The phase it happened in; null: the last phase opened. */
  readonly phase: RollbackInfo['phase'];
  readonly startedAt: Date;
  readonly alarm?: RollbackInfo['alarm'];
  /**
   * A person's change to the Deployment that the rollback kept (drift): the live images; null
   * when the recorded version was restored.
   */
  readonly keptImages: Readonly<Record<string, string>> | null;
  /** Where the person's Deployment is, when kept. */
  readonly keptDeployment?: string;
}

/**
 * ROLLED_BACK: the trigger and reason, the phase (the last one opened unless given), the image now
 * serving (the recorded previous one, or the person's when their change was kept), the open phase
 * closed as failed, and the events that say so. Returns false (nothing changed) when the record
 * already says ROLLED_BACK: one rollback is recorded once.
 */
export function markRolledBack(record: DeploymentRecord, r: RollbackFacts, at: Date): boolean {
  if (record.outcome === 'ROLLED_BACK') return false;
  const phase = r.phase ?? record.phases.at(-1)?.name ?? null;
  record.rollback = {
    trigger: r.trigger,
    reason: r.reason,
    phase,
    startedAt: r.startedAt.toISOString(),
    completedAt: at.toISOString(),
    ...(r.alarm ? { alarm: r.alarm } : {}),
  };
  record.outcome = 'ROLLED_BACK';
  record.finalImage = r.keptImages
    ? (r.keptImages[Object.keys(record.images)[0] ?? ''] ?? Object.values(r.keptImages)[0] ?? null)
    : record.previousImage;
  record.endedAt = at.toISOString();
  const open = record.phases.at(-1);
  if (open && open.endedAt === null) {
    open.endedAt = at.toISOString();
    open.verdict = open.verdict ?? 'fail';
  }
  addEvent(record, at, `rolled back by ${r.trigger}: ${r.reason}`);
  if (record.migration?.status === 'applied') {
    addEvent(record, at, 'the database keeps the migrated schema: only the code was rolled back');
  }
  if (r.keptImages) {
    addEvent(
      record,
      at,
      `drift: deployment ${r.keptDeployment ?? '(unknown)'} left as the person changed it (${JSON.stringify(r.keptImages)}); only tps-deploy's canary objects removed`,
    );
  }
  return true;
}
