import type { PhaseName } from './defaults.js';
import type { Provenance, ReleasePlan } from './input.js';

/** Pass, fail or inconclusive: missing data is never a pass. */
export type Verdict = 'pass' | 'fail' | 'inconclusive';

/** One check inside a verdict, with the numbers behind it. */
export interface CheckResult {
  readonly name: string;
  readonly verdict: Verdict;
  /** Measured value(s) in plain words and numbers, e.g. `canary 0.42% (21/5000), stable 0.05%`. */
  readonly detail: string;
  readonly value?: number | null;
  readonly threshold?: number | null;
  readonly pValue?: number | null;
}

/** Per-version numbers of one window. */
export interface VersionMetrics {
  readonly requests: number;
  readonly errors: number;
  readonly errorRate: number | null;
  readonly p50Ms: number | null;
  readonly p99Ms: number | null;
  readonly rps: number | null;
  readonly cpu: number | null;
  readonly memory: number | null;
  readonly disk: number | null;
}

/** The judgment of one validation window. */
export interface WindowDecision {
  readonly phase: PhaseName;
  /** 0 for the first window, 1.. for extensions. */
  readonly attempt: number;
  readonly start: string;
  readonly end: string;
  readonly verdict: Verdict;
  /** One human sentence: why this verdict. */
  readonly summary: string;
  readonly checks: readonly CheckResult[];
  readonly canary: VersionMetrics | null;
  readonly stable: VersionMetrics | null;
  /** Measurement errors (failed queries) are recorded here, never turned into a pass. */
  readonly measurementErrors: readonly string[];
  readonly traffic: { readonly targetWeight: number; readonly actualWeight: number | null };
}

/** What a phase did, for the record. */
export interface PhaseRecord {
  readonly name: PhaseName;
  readonly weight: number;
  readonly startedAt: string;
  endedAt: string | null;
  verdict: Verdict | null;
  readonly decisions: WindowDecision[];
  /** Pods of the new version and their status at the end of the phase. */
  pods: { ready: number; desired: number; status: string } | null;
  /** The phase's test Job (service config `tests.<phase>`), part of its verdict. */
  tests?: JobRun | null;
}

/** One Kubernetes Job tps-deploy ran: a phase's tests, a migration or its rollback. */
export interface JobRun {
  readonly name: string;
  readonly namespace: string;
  readonly image: string;
  readonly startedAt: string;
  completedAt: string | null;
  status: 'running' | 'succeeded' | 'failed';
  /** Tests passed / migration applied; null while running. */
  passed: boolean | null;
  durationSeconds: number | null;
  /** What the Job's status says, in words. */
  detail: string;
  /** Where the logs are, e.g. `kubectl -n shop logs job/api-tps-test-canary-x`. */
  readonly logs: string;
}

/** One pre-deployment gate and what it was decided on. */
export interface GateResult {
  readonly name: string;
  readonly passed: boolean;
  /** What was checked and found, in words and numbers. */
  readonly evidence: string;
}

/** Something owed after the release (e.g. the code review a hotfix skipped). */
export interface FollowUp {
  readonly item: string;
  readonly detail: string;
  readonly createdAt: string;
}

/** The team lead's decision. */
export interface ApprovalDecision {
  readonly decision: 'approved' | 'rejected' | 'timed-out';
  readonly by: string | null;
  readonly at: string;
  readonly comment: string | null;
  /** True when `by` is the ARN AWS verified (the answer endpoint); absent or false for a typed name. */
  readonly verified?: boolean;
}

/**
 * One answer through the verified endpoint (functions/release/answer.ts): approval, rejection,
 * promotion or abort, with the ARN AWS verified and when.
 */
export interface VerifiedAnswer {
  readonly action: 'approve' | 'reject' | 'promote' | 'abort';
  /** `requestContext.authorizer.iam.userArn` of the caller. */
  readonly principal: string;
  readonly at: string;
  readonly reason: string | null;
  /** The phase of the hold answered; null for an approval. */
  readonly phase: string | null;
  /** The wait answered: its `pendingApproval.requestedAt` (the yes answers of one wait are counted together). */
  readonly wait?: string;
  /**
   * False for a yes recorded while the release waits for other people (the requester was not
   * verified, so several must say yes: domain/duties.ts rule 4); absent or true when it was sent.
   */
  readonly delivered?: boolean;
  /** For a yes: the different people who said it to this wait (this one included) and how many it needs. */
  readonly approvals?: { readonly given: number; readonly needed: number };
}

/** A hold: keep the release where it is until a person promotes or aborts it. */
export interface HoldState {
  readonly requestedBy: string;
  readonly at: string;
  readonly reason?: string | null;
  /** Where the release waits, while it waits. */
  pending?: {
    readonly phase: PhaseName;
    readonly since: string;
    readonly expiresAt: string;
    /** Why it holds: requested by a person, or an inconclusive window (`holdOnInconclusive`). */
    readonly cause: 'requested' | 'inconclusive';
  } | null;
  /** The decision on this hold; unset while the hold has not taken effect or is waiting. */
  decision?: {
    readonly decision: 'promoted' | 'aborted' | 'timed-out';
    readonly phase: PhaseName;
    readonly by: string | null;
    readonly at: string;
  } | null;
}

/** A database snapshot taken before a migration. */
export interface SnapshotInfo {
  readonly kind: 'rds-instance' | 'aurora-cluster';
  readonly identifier: string;
  readonly snapshotId: string;
  status: 'creating' | 'available' | 'failed';
  readonly requestedAt: string;
  availableAt: string | null;
  arn: string | null;
  detail: string;
}

/** The release's database migration. */
export interface MigrationState {
  readonly when: 'before' | 'after';
  readonly image: string;
  snapshot: SnapshotInfo | null;
  job: JobRun | null;
  rollbackJob: JobRun | null;
  /** `applied`: new schema; `rolled-back`: the rollback Job restored the old one. */
  status: 'pending' | 'applied' | 'failed' | 'rolled-back' | 'rollback-failed';
  /** Which schema the database has now, as far as tps-deploy knows. */
  schema: 'old' | 'new' | 'unknown';
}

export type Outcome = 'RUNNING' | 'SUCCEEDED' | 'ROLLED_BACK' | 'REJECTED' | 'FAILED';

export interface RollbackInfo {
  /** `state-machine`, `alarm:<name>`, `person:<who>` */
  readonly trigger: string;
  readonly reason: string;
  readonly phase: PhaseName | 'record' | 'cleanup' | 'watch' | null;
  readonly startedAt: string;
  completedAt: string | null;
  readonly alarm?: { readonly name: string; readonly reason: string; readonly reasonData: string | null };
}

/** The deployment record: the runbook's checklist, filled in by the pipeline. */
export interface DeploymentRecord {
  readonly deploymentId: string;
  readonly service: string;
  readonly executionArn: string | null;
  /**
   * The execution's StartTime (`$$.Execution.StartTime`): with the ARN, what tells this execution
   * from another that reused its name. Absent in records written before it was kept.
   */
  readonly executionStartedAt?: string | null;
  readonly mode: 'standard' | 'hotfix';
  readonly requestedBy: string;
  /**
   * Who requested it and whether AWS verified that (a start through the answer endpoint); absent
   * in records written before it was kept. Unverified: `requestedBy` is what the caller typed.
   */
  requester?: { readonly principal: string; readonly verified: boolean } | null;
  readonly changeRef: string | null;
  readonly image: string;
  readonly images: Readonly<Record<string, string>>;
  previousImage: string | null;
  previousImages: Record<string, string> | null;
  finalImage: string | null;
  readonly startedAt: string;
  endedAt: string | null;
  outcome: Outcome;
  phases: PhaseRecord[];
  rollback: RollbackInfo | null;
  /** The stable version's numbers before anything changed (throughput band, p99 alarm). */
  baseline?: { rps: number | null; p99Ms: number | null; measuredAt: string } | null;
  /** Free-form timeline of what happened, oldest first. */
  events: { at: string; message: string }[];
  /** The pre-deployment gates, every one with its evidence. */
  gates?: GateResult[];
  /** Where the attestations came from, as the input gave it (absent in older records). */
  attestationProvenance?: { testsPassed?: Provenance; reviewers?: Provenance } | null;
  /** Owed after the release (a hotfix's skipped review, a release during a freeze). */
  followUps?: FollowUp[];
  /** The approval request a person has to answer ("Request Approval" waits for it). */
  pendingApproval?: {
    /** The task token is not here: it is kept in its own item (functions/ports/store.ts `saveTaskToken`). */
    requestedAt: string;
    expiresAt: string;
    /** Set when the person is asked to promote or abort a hold at this phase. */
    phase?: PhaseName;
  } | null;
  approval?: ApprovalDecision | null;
  /** Every answer given through the verified endpoint, oldest first. */
  answers?: VerifiedAnswer[];
  hold?: HoldState | null;
  /** The post-deployment watch. */
  watch?: { startedAt: string; seconds: number; until: string; standDownAt: string | null } | null;
  migration?: MigrationState | null;
  /** The migration and its rollback both failed: people are paged. */
  majorIncident?: { at: string; reason: string } | null;
}

/** A new record for a release that has not started. */
/** The execution a step runs in, as the state machine passes it. */
export interface ExecutionIdentity {
  readonly executionArn: string | null;
  /** `$$.Execution.StartTime`; null where no execution runs the step. */
  readonly executionStartTime: string | null;
}

/**
 * Whether `record` was written by `execution` (its retry is the same execution): same ARN and same
 * start time. A reused execution name has the same ARN and a later start time.
 */
export function isOwnRecord(record: DeploymentRecord, execution: ExecutionIdentity): boolean {
  return (
    record.executionArn === execution.executionArn &&
    (record.executionStartedAt ?? null) === execution.executionStartTime
  );
}

export function newRecord(plan: ReleasePlan, execution: ExecutionIdentity, now: Date): DeploymentRecord {
  const firstImage = Object.values(plan.images)[0]!;
  return {
    deploymentId: plan.deploymentId,
    service: plan.service,
    executionArn: execution.executionArn,
    executionStartedAt: execution.executionStartTime,
    mode: plan.mode,
    requestedBy: plan.requestedBy,
    requester: { principal: plan.requestedBy, verified: false },
    attestationProvenance: plan.input.attestations?.provenance ?? null,
    changeRef: plan.changeRef,
    image: firstImage,
    images: plan.images,
    previousImage: null,
    previousImages: null,
    finalImage: null,
    startedAt: now.toISOString(),
    endedAt: null,
    outcome: 'RUNNING',
    phases: [],
    rollback: null,
    events: [{ at: now.toISOString(), message: `release of ${firstImage} requested by ${plan.requestedBy}` }],
  };
}

/** The trigger (and rollback claimant) of the state machine's own "Roll Back". */
export const STATE_MACHINE_TRIGGER = 'state-machine';

/**
 * The triggers of the execution-status cleanup (functions/release/stopped.ts), by how the execution
 * ended with its release still RUNNING.
 */
export const EXECUTION_STOPPED_TRIGGERS = {
  ABORTED: 'person:execution-stopped',
  TIMED_OUT: 'execution-timeout',
  FAILED: 'execution-failed',
} as const;

/**
 * Who rolled a release back, in four kinds (the metrics' `trigger` dimension): the alarm function,
 * the state machine's own "Roll Back", a person through the CLI, or the execution-status cleanup of
 * an execution that was stopped, timed out or failed (a person stopping an execution in the console
 * counts here: the cleanup decided the rollback). `other` is never written by tps-deploy itself.
 */
export type TriggerKind = 'alarm' | 'state-machine' | 'person' | 'execution-stopped' | 'other';

/** The kind of a recorded trigger (`alarm:<name>`, `state-machine`, `person:<who>`, ...). */
export function triggerKind(trigger: string): TriggerKind {
  if (trigger === STATE_MACHINE_TRIGGER) return 'state-machine';
  if ((Object.values(EXECUTION_STOPPED_TRIGGERS) as string[]).includes(trigger)) return 'execution-stopped';
  if (trigger.startsWith('alarm:')) return 'alarm';
  if (trigger.startsWith('person:')) return 'person';
  return 'other';
}
