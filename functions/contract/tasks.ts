/**
 * The Lambda functions of the pipeline: one per task. The CDK stack creates one NodejsFunction per
 * entry (its environment carries `TPS_TASK`), the state machine definition invokes them by key,
 * and the local runner maps each back to the same handler code.
 */
export const TASKS = {
  validateInput: { entry: 'functions/handlers/validate-input.ts', timeoutSeconds: 10, memoryMb: 256 },
  beginRelease: { entry: 'functions/handlers/begin-release.ts', timeoutSeconds: 30, memoryMb: 512 },
  shiftTraffic: { entry: 'functions/handlers/shift-traffic.ts', timeoutSeconds: 60, memoryMb: 512 },
  // The timeout covers RUNBOOK.readinessWaitSeconds (25 s) of waiting for pods, plus the checks.
  checkReadiness: { entry: 'functions/handlers/check-readiness.ts', timeoutSeconds: 45, memoryMb: 512 },
  validateWindow: { entry: 'functions/handlers/validate-window.ts', timeoutSeconds: 60, memoryMb: 512 },
  finalize: { entry: 'functions/handlers/finalize.ts', timeoutSeconds: 300, memoryMb: 512 },
  completeRelease: { entry: 'functions/handlers/complete-release.ts', timeoutSeconds: 30, memoryMb: 256 },
  rollBack: { entry: 'functions/handlers/roll-back.ts', timeoutSeconds: 300, memoryMb: 512 },
  failRelease: { entry: 'functions/handlers/fail-release.ts', timeoutSeconds: 30, memoryMb: 256 },
  alarmRollback: { entry: 'functions/handlers/alarm-rollback.ts', timeoutSeconds: 300, memoryMb: 512 },
  executionStopped: { entry: 'functions/handlers/execution-stopped.ts', timeoutSeconds: 300, memoryMb: 512 },
  // ---- gates, approval, holds, tests, migrations, watch (functions/release/{gates,...}.ts) ----
  checkGates: { entry: 'functions/handlers/check-gates.ts', timeoutSeconds: 60, memoryMb: 512 },
  requestApproval: { entry: 'functions/handlers/request-approval.ts', timeoutSeconds: 30, memoryMb: 256 },
  recheckGates: { entry: 'functions/handlers/recheck-gates.ts', timeoutSeconds: 30, memoryMb: 256 },
  recordApproval: { entry: 'functions/handlers/record-approval.ts', timeoutSeconds: 30, memoryMb: 256 },
  rejectRelease: { entry: 'functions/handlers/reject-release.ts', timeoutSeconds: 30, memoryMb: 256 },
  holdRelease: { entry: 'functions/handlers/hold-release.ts', timeoutSeconds: 30, memoryMb: 256 },
  recordHoldDecision: {
    entry: 'functions/handlers/record-hold-decision.ts',
    timeoutSeconds: 30,
    memoryMb: 256,
  },
  startTests: { entry: 'functions/handlers/start-tests.ts', timeoutSeconds: 60, memoryMb: 512 },
  checkTests: { entry: 'functions/handlers/check-tests.ts', timeoutSeconds: 30, memoryMb: 512 },
  snapshotDatabase: { entry: 'functions/handlers/snapshot-database.ts', timeoutSeconds: 60, memoryMb: 256 },
  checkSnapshot: { entry: 'functions/handlers/check-snapshot.ts', timeoutSeconds: 30, memoryMb: 256 },
  startMigration: { entry: 'functions/handlers/start-migration.ts', timeoutSeconds: 60, memoryMb: 512 },
  checkMigration: { entry: 'functions/handlers/check-migration.ts', timeoutSeconds: 30, memoryMb: 512 },
  startMigrationRollback: {
    entry: 'functions/handlers/start-migration-rollback.ts',
    timeoutSeconds: 60,
    memoryMb: 512,
  },
  checkMigrationRollback: {
    entry: 'functions/handlers/check-migration-rollback.ts',
    timeoutSeconds: 30,
    memoryMb: 512,
  },
  declareMajorIncident: {
    entry: 'functions/handlers/declare-major-incident.ts',
    timeoutSeconds: 30,
    memoryMb: 256,
  },
  startWatch: { entry: 'functions/handlers/start-watch.ts', timeoutSeconds: 30, memoryMb: 256 },
  standDown: { entry: 'functions/handlers/stand-down.ts', timeoutSeconds: 30, memoryMb: 256 },
} as const;

export type TaskKey = keyof typeof TASKS;

/**
 * Tasks the state machine runs with `.waitForTaskToken`: their state's result is the answer a
 * person sends (SendTaskSuccess), not the function's return value.
 */
export const TOKEN_TASKS = ['requestApproval', 'holdRelease'] as const satisfies readonly TaskKey[];
export type TokenTask = (typeof TOKEN_TASKS)[number];

/**
 * Tasks that act on the Kubernetes cluster. Only their functions bundle @kubernetes/client-node
 * (functions/handlers/cluster-runtime.ts); the others stay small and start fast.
 */
export const CLUSTER_TASKS: readonly TaskKey[] = [
  'checkGates',
  'beginRelease',
  'shiftTraffic',
  'checkReadiness',
  'validateWindow',
  'finalize',
  'rollBack',
  'alarmRollback',
  'executionStopped',
  'startTests',
  'checkTests',
  'startMigration',
  'checkMigration',
  'startMigrationRollback',
  'checkMigrationRollback',
  'standDown',
];

/** A cluster task's access: `read` only looks, `write` changes workloads and Jobs. */
export type ClusterAccessLevel = 'read' | 'write';
/** The same, as the Kubernetes side names it. */
export type ClusterAccess = ClusterAccessLevel;
export const CLUSTER_ACCESS_KINDS: readonly ClusterAccess[] = ['read', 'write'];

/**
 * What each cluster task may do on the cluster: `read` tasks only look (their Kubernetes group is
 * bound to the read-only Role), `write` tasks change Deployments, Services, Ingresses or Jobs.
 * Every task in {@link CLUSTER_TASKS} has an entry; the others have no cluster access at all.
 */
export const CLUSTER_ACCESS: Readonly<Partial<Record<TaskKey, ClusterAccessLevel>>> = {
  checkGates: 'read',
  // Records the Deployment's template and replicas: reads only (cluster.recordPlan).
  beginRelease: 'read',
  validateWindow: 'read',
  checkTests: 'read',
  checkMigration: 'read',
  checkMigrationRollback: 'read',
  standDown: 'read',
  shiftTraffic: 'write',
  // Completes the shift once the new pods are Ready (router.setWeight, through the write-ahead).
  checkReadiness: 'write',
  finalize: 'write',
  rollBack: 'write',
  alarmRollback: 'write',
  executionStopped: 'write',
  startTests: 'write',
  startMigration: 'write',
  startMigrationRollback: 'write',
};

/** The cluster access of a cluster task; a task outside {@link CLUSTER_TASKS} has none. */
export function clusterAccessOf(task: TaskKey): ClusterAccessLevel {
  const access = CLUSTER_ACCESS[task];
  if (access === undefined) {
    throw new Error(`task ${task} has no cluster access; only CLUSTER_TASKS act on the cluster`);
  }
  return access;
}

/** Tasks started by EventBridge rules, not by the state machine. */
export const EVENT_TASKS: readonly TaskKey[] = ['alarmRollback', 'executionStopped'];
export const TASK_KEYS = Object.keys(TASKS) as TaskKey[];

/** Environment variable naming the task a function runs (read by the local runner). */
export const TASK_ENV = 'TPS_TASK';
