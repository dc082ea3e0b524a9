/**
 * What each task function may do in AWS: the one table the CDK stack grants from
 * (infra/constructs/task-permissions.ts) and test/infra/task-permissions.test.ts checks, both against
 * the synthesized roles and against the code.
 *
 * Two parts. {@link PORT_GRANTS}: for each port method whose Lambda adapter calls AWS
 * (functions/handlers/aws-runtime.ts composes them), the IAM actions that adapter method sends and
 * on what. {@link TASK_AWS_CALLS}: for each task, the port methods its step can reach. A task's
 * role allows exactly the union of its port methods' grants (plus writing its own log group and
 * X-Ray, added by active tracing). A new function is one entry in {@link TASK_AWS_CALLS}.
 *
 * Why per port method and not per port: the store's methods send different DynamoDB actions
 * (`get` GetItem, `put` UpdateItem, `history` Query on the `history` index), and most tasks only
 * read and update their record.
 */
import type { TaskKey } from './tasks.js';

/**
 * What a grant is on. The stack turns each kind into ARNs (from the catalog and names.ts); every
 * function serves every service of the catalog, so service-scoped kinds cover all of its services.
 */
export type GrantTarget =
  /** The deployments table itself (items). */
  | 'deploymentsTable'
  /** The deployments table's `history` index. */
  | 'deploymentsHistory'
  /** The notifications topic. */
  | 'notificationsTopic'
  /** `*`: for actions without resource-level permissions (GetMetricData's classic queries). */
  | 'anyResource'
  /** The p99 latency alarm of each service (the one whose threshold a release moves). */
  | 'latencyAlarms'
  /** Every rollback alarm of each service (the monitoring gate reads their states). */
  | 'serviceAlarms'
  /** The executions of each service's release state machine. */
  | 'releaseExecutions'
  /** Each service's release state machine itself (answer a waiting task, start an execution). */
  | 'releaseStateMachines'
  /** The rollback function: the one the execution-status rule invokes (a person's rollback too). */
  | 'rollbackFunction'
  /** The EKS clusters of the catalog. */
  | 'catalogClusters'
  /** The catalog's RDS instances and their `tps-<service>-*` snapshots. */
  | 'instanceDatabases'
  /** The catalog's Aurora clusters and their `tps-<service>-*` cluster snapshots. */
  | 'clusterDatabases'
  /** The CodePipeline pipelines the catalog's `duties.requireTestsFrom` names. */
  | 'catalogPipelines';

/** Actions on resources of one kind. */
export interface Grant {
  readonly actions: readonly string[];
  readonly on: GrantTarget;
}

/** The DynamoDB actions of the store on the table, by store method. */
const table = (action: string): readonly Grant[] => [{ actions: [action], on: 'deploymentsTable' }];

/**
 * The AWS calls behind each port method in Lambda. Port methods whose adapters make no AWS call
 * (the cluster, the router, Jobs, the clock, EMF telemetry, the on-call HTTP directory) are in
 * {@link NO_AWS_PORTS}. `TaskTokens`, `ReleaseStarter` and `RollbackRequests` are the answer
 * endpoint's (ENDPOINT_AWS_CALLS): no task function answers a task token, so a task step that
 * starts to call one fails the check against TASK_AWS_CALLS.
 */
export const PORT_GRANTS = {
  'DeploymentStore.begin': [
    { actions: ['dynamodb:DeleteItem', 'dynamodb:GetItem', 'dynamodb:PutItem'], on: 'deploymentsTable' },
  ],
  'DeploymentStore.get': table('dynamodb:GetItem'),
  'DeploymentStore.put': table('dynamodb:UpdateItem'),
  'DeploymentStore.savePlan': table('dynamodb:PutItem'),
  'DeploymentStore.getPlan': table('dynamodb:GetItem'),
  'DeploymentStore.active': table('dynamodb:GetItem'),
  'DeploymentStore.setStage': table('dynamodb:UpdateItem'),
  'DeploymentStore.release': table('dynamodb:DeleteItem'),
  'DeploymentStore.claimRollback': table('dynamodb:PutItem'),
  'DeploymentStore.rollbackClaim': table('dynamodb:GetItem'),
  'DeploymentStore.history': [{ actions: ['dynamodb:Query'], on: 'deploymentsHistory' }],
  // The waiting task token's own item (never in the record) and the answer endpoint's verified start.
  'DeploymentStore.saveTaskToken': table('dynamodb:PutItem'),
  'DeploymentStore.taskToken': table('dynamodb:GetItem'),
  'DeploymentStore.dropTaskToken': table('dynamodb:DeleteItem'),
  'DeploymentStore.saveVerifiedStart': table('dynamodb:PutItem'),
  'DeploymentStore.dropVerifiedStart': table('dynamodb:DeleteItem'),
  'DeploymentStore.verifiedStart': table('dynamodb:GetItem'),
  'Notifier.notify': [{ actions: ['sns:Publish'], on: 'notificationsTopic' }],
  'PipelineRecords.actionExecution': [
    { actions: ['codepipeline:ListActionExecutions'], on: 'catalogPipelines' },
  ],
  // Classic MetricStat queries name no resource: "*" is the only valid resource.
  'MetricsSource.window': [{ actions: ['cloudwatch:GetMetricData'], on: 'anyResource' }],
  // The EKS kubeconfig of the cluster (functions/handlers/cluster-runtime.ts); the Kubernetes calls
  // themselves are allowed by the task's Kubernetes group (CLUSTER_ACCESS), not by IAM.
  'ReleasePorts.workloads': [{ actions: ['eks:DescribeCluster'], on: 'catalogClusters' }],
  // The configured threshold is kept in the alarm's tags so restore is exact.
  'AlarmThresholds.setLatencyThreshold': [
    {
      actions: [
        'cloudwatch:DescribeAlarms',
        'cloudwatch:ListTagsForResource',
        'cloudwatch:PutMetricAlarm',
        'cloudwatch:TagResource',
      ],
      on: 'latencyAlarms',
    },
  ],
  'AlarmThresholds.restore': [
    {
      actions: [
        'cloudwatch:DescribeAlarms',
        'cloudwatch:ListTagsForResource',
        'cloudwatch:PutMetricAlarm',
        'cloudwatch:UntagResource',
      ],
      on: 'latencyAlarms',
    },
  ],
  'AlarmStates.read': [{ actions: ['cloudwatch:DescribeAlarms'], on: 'serviceAlarms' }],
  'Executions.stop': [{ actions: ['states:StopExecution'], on: 'releaseExecutions' }],
  // Whether the holder of a lock is still running (taking over a lock left by an ended execution).
  'Executions.status': [{ actions: ['states:DescribeExecution'], on: 'releaseExecutions' }],
  // `create` waits for nothing but reads the snapshot back when it already exists (a retry).
  'DatabaseSnapshots.create': [
    { actions: ['rds:CreateDBSnapshot', 'rds:DescribeDBSnapshots'], on: 'instanceDatabases' },
    { actions: ['rds:CreateDBClusterSnapshot', 'rds:DescribeDBClusterSnapshots'], on: 'clusterDatabases' },
  ],
  'DatabaseSnapshots.status': [
    { actions: ['rds:DescribeDBSnapshots'], on: 'instanceDatabases' },
    { actions: ['rds:DescribeDBClusterSnapshots'], on: 'clusterDatabases' },
  ],
  // The factory builds the metrics source; the GetMetricData call is its `window`.
  'ReleasePorts.metrics': [],
  // The answer endpoint's own ports (ENDPOINT_AWS_CALLS): answer a waiting task, start a release,
  // hand a person's rollback to the rollback function.
  'TaskTokens.succeed': [{ actions: ['states:SendTaskSuccess'], on: 'releaseStateMachines' }],
  'TaskTokens.fail': [{ actions: ['states:SendTaskFailure'], on: 'releaseStateMachines' }],
  'ReleaseStarter.start': [{ actions: ['states:StartExecution'], on: 'releaseStateMachines' }],
  'RollbackRequests.request': [{ actions: ['lambda:InvokeFunction'], on: 'rollbackFunction' }],
} as const satisfies Readonly<Record<string, readonly Grant[]>>;

/** A port method whose Lambda adapter calls AWS (or, as `ReleasePorts.metrics`, builds one that does). */
export type AwsPortCall = keyof typeof PORT_GRANTS;

/** Ports (interfaces of functions/ports) whose Lambda adapters make no AWS call. */
export const NO_AWS_PORTS: readonly string[] = [
  'ClusterClient',
  'TrafficRouter',
  'JobRunner',
  'Clock',
  'ReadinessWait',
  'ReleaseTelemetry',
  'OnCallDirectory',
];

const RECORD: readonly AwsPortCall[] = ['DeploymentStore.get', 'DeploymentStore.put'];
/** Taking or taking over the service's lock (support.ts), as Check Gates and a re-run Begin do. */
const LOCK: readonly AwsPortCall[] = ['DeploymentStore.active', 'DeploymentStore.begin', 'Executions.status'];
/** `performRollback` (functions/release/rollback.ts), shared by every caller that rolls back. */
const ROLLBACK: readonly AwsPortCall[] = [
  ...RECORD,
  'DeploymentStore.active',
  'DeploymentStore.claimRollback',
  'DeploymentStore.getPlan',
  'DeploymentStore.history',
  'DeploymentStore.release',
  'AlarmThresholds.restore',
  'Notifier.notify',
  'ReleasePorts.workloads',
];
/** A cluster change through the write-ahead fence (functions/release/write-ahead.ts). */
const FENCED: readonly AwsPortCall[] = [...RECORD, 'DeploymentStore.rollbackClaim', 'ReleasePorts.workloads'];

/**
 * The port methods (with AWS behind them) each task's step can reach, as read from the code by
 * test/infra/task-permissions.test.ts: an entry that drifts from the code fails there.
 */
export const TASK_AWS_CALLS: { readonly [K in TaskKey]: readonly AwsPortCall[] } = {
  validateInput: [],
  checkGates: [
    ...RECORD,
    ...LOCK,
    'DeploymentStore.release',
    'AlarmStates.read',
    'Notifier.notify',
    'ReleasePorts.metrics',
    'DeploymentStore.verifiedStart',
    'MetricsSource.window',
    'PipelineRecords.actionExecution',
    'ReleasePorts.workloads',
  ],
  beginRelease: [
    ...RECORD,
    ...LOCK,
    'DeploymentStore.getPlan',
    'DeploymentStore.savePlan',
    'AlarmThresholds.setLatencyThreshold',
    'Notifier.notify',
    'ReleasePorts.metrics',
    'MetricsSource.window',
    'ReleasePorts.workloads',
  ],
  shiftTraffic: [...FENCED, 'DeploymentStore.getPlan'],
  checkReadiness: [...FENCED, 'DeploymentStore.getPlan'],
  validateWindow: [
    ...RECORD,
    'DeploymentStore.getPlan',
    'Notifier.notify',
    'ReleasePorts.metrics',
    'MetricsSource.window',
    'ReleasePorts.workloads',
  ],
  finalize: [...FENCED, 'DeploymentStore.getPlan'],
  completeRelease: [
    ...RECORD,
    'DeploymentStore.active',
    'DeploymentStore.release',
    'DeploymentStore.rollbackClaim',
    'AlarmThresholds.restore',
    'Notifier.notify',
  ],
  failRelease: [
    ...RECORD,
    'DeploymentStore.active',
    'DeploymentStore.release',
    'AlarmThresholds.restore',
    'Notifier.notify',
  ],
  rollBack: ROLLBACK,
  alarmRollback: [...ROLLBACK, 'Executions.stop'],
  executionStopped: ROLLBACK,
  recheckGates: [...RECORD, 'DeploymentStore.release', 'AlarmStates.read', 'Notifier.notify'],
  requestApproval: [...RECORD, 'DeploymentStore.saveTaskToken', 'Notifier.notify'],
  recordApproval: [...RECORD, 'DeploymentStore.dropTaskToken', 'Notifier.notify'],
  rejectRelease: [...RECORD, 'DeploymentStore.release', 'DeploymentStore.dropTaskToken', 'Notifier.notify'],
  holdRelease: [...RECORD, 'DeploymentStore.saveTaskToken', 'Notifier.notify'],
  recordHoldDecision: [...RECORD, 'DeploymentStore.dropTaskToken', 'Notifier.notify'],
  startTests: FENCED,
  checkTests: [...RECORD, 'ReleasePorts.workloads'],
  snapshotDatabase: [...RECORD, 'DatabaseSnapshots.create'],
  checkSnapshot: [...RECORD, 'DatabaseSnapshots.status'],
  startMigration: FENCED,
  checkMigration: [...RECORD, 'ReleasePorts.workloads'],
  startMigrationRollback: FENCED,
  checkMigrationRollback: [...RECORD, 'ReleasePorts.workloads'],
  declareMajorIncident: [...RECORD, 'DeploymentStore.release', 'Notifier.notify'],
  startWatch: [...RECORD, 'DeploymentStore.setStage', 'Notifier.notify'],
  standDown: [...RECORD, 'DeploymentStore.getPlan', 'Notifier.notify', 'ReleasePorts.workloads'],
};

/**
 * The KMS actions a caller needs on the stack's one data key to use a resource it encrypts: the
 * set CDK's table grants use for the KMS-encrypted table, and what SNS needs of a publisher to
 * an encrypted topic. Granted only to the roles with a grant on that resource.
 */
export const DATA_KEY_ACTIONS: Readonly<Partial<Record<GrantTarget, readonly string[]>>> = {
  deploymentsTable: [
    'kms:Decrypt',
    'kms:DescribeKey',
    'kms:Encrypt',
    'kms:GenerateDataKey*',
    'kms:ReEncrypt*',
  ],
  deploymentsHistory: [
    'kms:Decrypt',
    'kms:DescribeKey',
    'kms:Encrypt',
    'kms:GenerateDataKey*',
    'kms:ReEncrypt*',
  ],
  notificationsTopic: ['kms:Decrypt', 'kms:GenerateDataKey*'],
};

/**
 * The port methods (with AWS behind them) the answer endpoint's code can reach
 * (functions/handlers/answer-runtime.ts `handleAnswer`: answer, verified start, and hold, withdraw,
 * stop, rollback, unlock), as read from the code by test/infra/task-permissions.test.ts. Its role
 * (infra/constructs/answer-endpoint.ts) allows exactly their grants.
 */
export const ENDPOINT_AWS_CALLS: readonly AwsPortCall[] = [
  ...RECORD,
  'DeploymentStore.active',
  'DeploymentStore.history',
  'DeploymentStore.release',
  'DeploymentStore.taskToken',
  'DeploymentStore.saveVerifiedStart',
  'DeploymentStore.dropVerifiedStart',
  'TaskTokens.succeed',
  'TaskTokens.fail',
  'ReleaseStarter.start',
  'Executions.status',
  'Executions.stop',
  'RollbackRequests.request',
];

/** The grants of port method calls, each (action, target) once. */
export function grantsOf(calls: readonly AwsPortCall[]): Grant[] {
  const byTarget = new Map<GrantTarget, Set<string>>();
  for (const call of calls) {
    for (const g of PORT_GRANTS[call] as readonly Grant[]) {
      const set = byTarget.get(g.on) ?? new Set<string>();
      for (const a of g.actions) set.add(a);
      byTarget.set(g.on, set);
    }
  }
  return [...byTarget].map(([on, actions]) => ({ on, actions: [...actions].sort() }));
}

/** The grants of a task: its port methods' grants, each (action, target) once. */
export function taskGrants(task: TaskKey): Grant[] {
  return grantsOf(TASK_AWS_CALLS[task]);
}

/** The grants of the answer endpoint. */
export function endpointGrants(): Grant[] {
  return grantsOf(ENDPOINT_AWS_CALLS);
}
