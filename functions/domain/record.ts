import type { PhaseName } from './defaults.js';

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
  readonly mode: 'standard' | 'hotfix';
  readonly requestedBy: string;
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
}
