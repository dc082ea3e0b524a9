/**
 * Issue #15, per-function IAM: for every task function, the (action, resource) pairs its role
 * allows in the synthesized template are exactly the ones its code calls.
 *
 * Three links, each checked against something other than the table itself:
 *  1. code -> table: the port methods each task's step can reach, read from the source with the
 *     TypeScript checker (test/helpers/port-calls.ts), equal TASK_AWS_CALLS; the SDK commands each
 *     AWS adapter method sends, read the same way, equal PORT_GRANTS' actions;
 *  2. table -> template: each role's (action, resource) pairs equal the table's grants on ARNs
 *     built here from the catalog and the template (plus its own log group and X-Ray);
 *  3. the comparison bites: a copy of the template with one pair added to, or one removed from,
 *     any function's role fails it.
 * The answer endpoint (the 30th function, functions/handlers/answer-runtime.ts) is held to the same
 * three links through its own row, ENDPOINT_AWS_CALLS: what `handleAnswer` can reach.
 * And the cluster side: a cluster task's role has one EKS access entry per catalog cluster, in
 * the read or write group of this app; no other role has one, or eks:DescribeCluster.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import ts from 'typescript';
import {
  type AwsPortCall,
  DATA_KEY_ACTIONS,
  ENDPOINT_AWS_CALLS,
  endpointGrants,
  type Grant,
  type GrantTarget,
  NO_AWS_PORTS,
  PORT_GRANTS,
  TASK_AWS_CALLS,
  taskGrants,
} from '../../functions/contract/permissions.js';
import {
  CLUSTER_ACCESS,
  CLUSTER_TASKS,
  TASK_ENV,
  TASK_KEYS,
  TASKS,
  type TaskKey,
} from '../../functions/contract/tasks.js';
import { alarmName } from '../../functions/domain/alarms.js';
import { type Catalog, parseCatalog } from '../../functions/domain/config.js';
import { serviceAlarmNames } from '../../functions/domain/gates.js';
import { snapshotIdFor } from '../../functions/release/migration.js';
import { VPC_ENI_ACTIONS } from '../../infra/constructs/task-network.js';
import { kubernetesGroup, stateMachineName } from '../../infra/names.js';
import sample from '../../tps.config.js';
import { catalogWithDatabases } from '../helpers/catalogs.js';
import { SourceIndex, stepDeclarations } from '../helpers/port-calls.js';
import { type CfnTemplate, resourcesOfType, synthTemplate } from '../helpers/synth.js';

const ROOT = join(import.meta.dirname, '..', '..');

// ---- 1. code -> table ---------------------------------------------------------------------------

/**
 * The adapter class behind each port in Lambda, and the files that compose them
 * (checked below: each class is constructed there).
 */
const AWS_ADAPTERS: Readonly<Record<string, { file: string; cls: string }>> = {
  DeploymentStore: { file: 'functions/adapters/aws/dynamodb-store/store.ts', cls: 'DynamoDbDeploymentStore' },
  Notifier: { file: 'functions/adapters/aws/sns-notifier.ts', cls: 'SnsNotifier' },
  MetricsSource: { file: 'functions/adapters/aws/cloudwatch-metrics.ts', cls: 'CloudWatchMetricsSource' },
  AlarmThresholds: { file: 'functions/adapters/aws/alarm-thresholds.ts', cls: 'CloudWatchAlarmThresholds' },
  AlarmStates: { file: 'functions/adapters/aws/alarm-states.ts', cls: 'CloudWatchAlarmStates' },
  Executions: { file: 'functions/adapters/aws/sfn-executions.ts', cls: 'SfnExecutions' },
  DatabaseSnapshots: { file: 'functions/adapters/aws/rds-snapshots.ts', cls: 'RdsDatabaseSnapshots' },
  PipelineRecords: { file: 'functions/adapters/aws/codepipeline-records.ts', cls: 'CodePipelineRecords' },
  // The answer endpoint's (functions/handlers/answer-runtime.ts).
  TaskTokens: { file: 'functions/adapters/aws/task-tokens.ts', cls: 'SfnTaskTokens' },
  ReleaseStarter: { file: 'functions/adapters/aws/sfn-release-starter.ts', cls: 'SfnReleaseStarter' },
  RollbackRequests: {
    file: 'functions/adapters/aws/lambda-rollback-requests.ts',
    cls: 'LambdaRollbackRequests',
  },
};
/** Port methods of ReleasePorts itself and the adapter method that makes their AWS call. */
const FACTORY_METHODS: Readonly<Record<string, { file: string; cls: string; method: string } | null>> = {
  // The cluster runtime's kubeconfig: DescribeCluster (functions/handlers/cluster-runtime.ts).
  'ReleasePorts.workloads': {
    file: 'functions/adapters/aws/eks-auth.ts',
    cls: 'EksKubeConfigProvider',
    method: 'access',
  },
  // Builds the metrics source; its AWS call is MetricsSource.window.
  'ReleasePorts.metrics': null,
};
const COMPOSITION = [
  'functions/compose.ts',
  'functions/handlers/aws-runtime.ts',
  'functions/handlers/cluster-runtime.ts',
  'functions/adapters/metrics-factory.ts',
  'functions/handlers/answer-runtime.ts',
];
/** The answer endpoint's code: its handler's request handling (the Lambda entry composes it). */
const ENDPOINT = { file: 'functions/handlers/answer-runtime.ts', fn: 'handleAnswer' };

let index: SourceIndex;
let reached: Record<TaskKey, Set<string>>;
let endpointReached: Set<string>;

beforeAll(() => {
  index = new SourceIndex([
    'functions/release/registry.ts',
    ...Object.values(AWS_ADAPTERS).map((a) => a.file),
    'functions/adapters/aws/eks-auth.ts',
    ENDPOINT.file,
  ]);
  const handle = index
    .file(ENDPOINT.file)
    .statements.find((st) => ts.isFunctionDeclaration(st) && st.name?.text === ENDPOINT.fn);
  if (!handle) throw new Error(`no function ${ENDPOINT.fn} in ${ENDPOINT.file}`);
  endpointReached = index.portCalls([handle]);
  const steps = stepDeclarations(index);
  reached = Object.fromEntries(
    TASK_KEYS.map((task) => {
      const step = steps[task];
      if (!step) throw new Error(`no step for task ${task} in STEPS`);
      return [task, index.portCalls([step])];
    }),
  ) as Record<TaskKey, Set<string>>;
}, 120_000);

const sorted = (xs: Iterable<string>) => [...new Set(xs)].sort();

describe('the table is what the code calls', () => {
  test('the source reading finds the steps and their port calls (a broken reader would find nothing)', () => {
    expect(Object.keys(stepDeclarations(index)).sort()).toEqual([...TASK_KEYS].sort());
    expect([...reached.rollBack]).toContain('DeploymentStore.claimRollback');
    expect([...reached.alarmRollback]).toContain('Executions.stop');
    expect(reached.validateInput.size).toBe(0);
  });

  /**
   * Calls through our own (non-port) interfaces that the reading may pass: `changeCluster`'s
   * `apply` and `undo` (functions/release/write-ahead.ts) are object literals written at each
   * call site, inside the step code that is read, and no class implements ClusterChange.
   */
  const READ_AT_CALL_SITE = ['unfollowed ClusterChange.apply', 'unfollowed ClusterChange.undo'];

  test('ClusterChange is implemented only by object literals (so its calls are read where written)', () => {
    const implementers = index.program
      .getSourceFiles()
      .filter((f) => f.fileName.startsWith(join(ROOT, 'functions')))
      .filter((f) => /implements\s+ClusterChange\b|:\s*ClusterChange\s*=/.test(f.text))
      .map((f) => f.fileName);
    expect(implementers).toEqual([]);
  });

  test('the reading counts calls on a port, an alias and a helper, and reports a port method taken out of its object', () => {
    const probe = new SourceIndex(['test/fixtures/port-calls-probe.ts']);
    const file = probe.file('test/fixtures/port-calls-probe.ts');
    const calls = probe.portCalls([...file.statements]);
    expect([...calls]).toEqual(
      expect.arrayContaining([
        'Notifier.notify',
        'DeploymentStore.history',
        'unfollowed destructured ReleasePorts.workloads',
        // changeCluster (functions/release/write-ahead.ts) reads the record and the rollback claim.
        'DeploymentStore.get',
        'DeploymentStore.rollbackClaim',
      ]),
    );
    expect([...calls].filter((c) => c.startsWith('ReleasePorts.'))).toEqual([]);
  });

  test.each(TASK_KEYS)('%s: the AWS port methods its step can reach equal TASK_AWS_CALLS', (task) => {
    const calls = [...reached[task]].filter((c) => !READ_AT_CALL_SITE.includes(c));
    const unknown = calls.filter(
      (c) => !Object.hasOwn(PORT_GRANTS, c) && !NO_AWS_PORTS.includes(c.split('.')[0]!),
    );
    // A port method with neither a grant nor "no AWS" is one nobody decided about (TaskTokens).
    expect({ task, unknown }).toEqual({ task, unknown: [] });
    expect(sorted(calls.filter((c) => Object.hasOwn(PORT_GRANTS, c)))).toEqual(sorted(TASK_AWS_CALLS[task]));
  });

  test('the answer endpoint: the AWS port methods handleAnswer can reach equal ENDPOINT_AWS_CALLS', () => {
    const calls = [...endpointReached];
    // The reader follows the endpoint's steps: answer, start and steer each reach the table.
    expect(calls).toEqual(expect.arrayContaining(['TaskTokens.succeed', 'Executions.stop']));
    const unknown = calls.filter(
      (c) => !Object.hasOwn(PORT_GRANTS, c) && !NO_AWS_PORTS.includes(c.split('.')[0]!),
    );
    expect(unknown).toEqual([]);
    expect(sorted(calls.filter((c) => Object.hasOwn(PORT_GRANTS, c)))).toEqual(sorted(ENDPOINT_AWS_CALLS));
  });

  test.each(Object.keys(PORT_GRANTS) as AwsPortCall[])(
    '%s: the SDK commands of its Lambda adapter are the actions granted for it',
    (call) => {
      const [port, method] = call.split('.') as [string, string];
      const factory = FACTORY_METHODS[call];
      const at =
        port !== 'ReleasePorts'
          ? index.method(AWS_ADAPTERS[port]!.file, AWS_ADAPTERS[port]!.cls, method)
          : factory
            ? index.method(factory.file, factory.cls, factory.method)
            : null;
      const granted = sorted(PORT_GRANTS[call].flatMap((g) => g.actions));
      expect(at === null ? [] : sorted(index.sdkActions([at]))).toEqual(granted);
    },
  );

  test('every public method of an AWS adapter is in the table (a new one cannot go ungranted)', () => {
    for (const [port, { file, cls }] of Object.entries(AWS_ADAPTERS)) {
      for (const m of index.publicMethods(file, cls))
        expect(Object.keys(PORT_GRANTS)).toContain(`${port}.${m}`);
    }
  });

  test('the adapters read are the ones the Lambda runtime composes', () => {
    const text = COMPOSITION.map((f) => readFileSync(join(ROOT, f), 'utf8')).join('\n');
    for (const { cls } of [...Object.values(AWS_ADAPTERS), FACTORY_METHODS['ReleasePorts.workloads']!]) {
      expect({ cls, composed: text.includes(`new ${cls}(`) }).toEqual({ cls, composed: true });
    }
  });

  /**
   * The cluster port methods that change the cluster (the Kubernetes verbs behind them are the
   * shipped Roles' business); every other method of these ports only reads. A method in neither
   * list fails below, so a new one must be placed.
   */
  const CLUSTER_WRITES = [
    'TrafficRouter.setWeight',
    'TrafficRouter.finalize',
    'TrafficRouter.rollback',
    'JobRunner.start',
  ];
  const CLUSTER_READS = [
    'ClusterClient.recordPlan',
    'ClusterClient.health',
    'ClusterClient.drift',
    'ClusterClient.driftDetail',
    'TrafficRouter.status',
    'JobRunner.status',
  ];

  test.each(CLUSTER_TASKS)(
    '%s: CLUSTER_ACCESS is write exactly when its step can change the cluster',
    (task) => {
      const cluster = [...reached[task]].filter((c) => /^(ClusterClient|TrafficRouter|JobRunner)\./.test(c));
      expect(cluster.filter((c) => !CLUSTER_WRITES.includes(c) && !CLUSTER_READS.includes(c))).toEqual([]);
      const writes = cluster.filter((c) => CLUSTER_WRITES.includes(c));
      expect({ task, access: CLUSTER_ACCESS[task], writes }).toEqual({
        task,
        access: writes.length > 0 ? 'write' : 'read',
        writes,
      });
    },
  );

  test('the tasks that reach the cluster are CLUSTER_TASKS, and only their handlers get EKS access', () => {
    const reaching = TASK_KEYS.filter((t) => reached[t].has('ReleasePorts.workloads'));
    expect(sorted(reaching)).toEqual(sorted(CLUSTER_TASKS));
    expect(sorted(Object.keys(CLUSTER_ACCESS))).toEqual(sorted(CLUSTER_TASKS));
    for (const task of TASK_KEYS) {
      const handler = readFileSync(join(ROOT, TASKS[task].entry), 'utf8');
      expect({ task, eks: handler.includes('eksWorkloads') }).toEqual({
        task,
        eks: CLUSTER_TASKS.includes(task),
      });
    }
  });
});

// ---- 2. table -> template -----------------------------------------------------------------------

/** A Resource value as text: literals kept, `Ref` as `<Id>`, `Fn::GetAtt` as `<Id.Attr>`, joins joined. */
function render(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value && typeof value === 'object') {
    const o = value as Record<string, unknown>;
    if (Array.isArray(o['Fn::Join'])) {
      const [sep, parts] = o['Fn::Join'] as [string, unknown[]];
      return parts.map(render).join(sep);
    }
    if (Array.isArray(o['Fn::GetAtt'])) return `<${(o['Fn::GetAtt'] as string[]).join('.')}>`;
    if (typeof o.Ref === 'string') return `<${o.Ref}>`;
  }
  throw new Error(`task-permissions: cannot read resource ${JSON.stringify(value)}`);
}

/** The logical ID of the role of each task's function. */
function rolesOf(template: CfnTemplate): Record<TaskKey, string> {
  const out: Partial<Record<TaskKey, string>> = {};
  for (const id of resourcesOfType(template, 'AWS::Lambda::Function')) {
    const p = template.Resources[id]!.Properties!;
    const task = p.Environment?.Variables?.[TASK_ENV] as TaskKey | undefined;
    if (task) out[task] = p.Role['Fn::GetAtt'][0];
  }
  return out as Record<TaskKey, string>;
}

/**
 * Every `action resource` pair a role allows, from every policy of the template attached to it.
 * A Deny, NotAction or NotResource is reported as a pair of its own, so it cannot slip through.
 */
function allowedPairs(template: CfnTemplate, roleId: string): string[] {
  const docs: { Statement: Record<string, unknown>[] }[] = [];
  for (const r of Object.values(template.Resources)) {
    const attached = (r.Properties?.Roles ?? []).some((x: { Ref?: string }) => x.Ref === roleId);
    if ((r.Type === 'AWS::IAM::Policy' || r.Type === 'AWS::IAM::ManagedPolicy') && attached) {
      docs.push(r.Properties!.PolicyDocument);
    }
  }
  const role = template.Resources[roleId]!.Properties!;
  for (const p of role.Policies ?? []) docs.push(p.PolicyDocument);
  const pairs: string[] = [];
  if ((role.ManagedPolicyArns ?? []).length > 0) pairs.push('managed policies attached');
  for (const doc of docs) {
    for (const s of doc.Statement) {
      if (s.Effect !== 'Allow' || s.NotAction !== undefined || s.NotResource !== undefined) {
        pairs.push(`unexpected statement ${JSON.stringify(s)}`);
        continue;
      }
      for (const a of [s.Action].flat() as string[]) {
        for (const res of [s.Resource].flat()) pairs.push(`${a} ${render(res)}`);
      }
    }
  }
  return pairs.sort();
}

const ARN = 'arn:<AWS::Partition>';

/** The ARNs of each grant target, built here from the catalog and the template. */
function targetArns(template: CfnTemplate, catalog: Catalog): Record<GrantTarget, string[]> {
  const [tableId] = resourcesOfType(template, 'AWS::DynamoDB::Table');
  const [topicId] = resourcesOfType(template, 'AWS::SNS::Topic');
  const services = Object.entries(catalog.services);
  const alarm = (name: string) => `${ARN}:cloudwatch:<AWS::Region>:<AWS::AccountId>:alarm:${name}`;
  const snapshotPrefix = (svc: string) => {
    const id = snapshotIdFor(svc, 'x');
    return id.length < 63 ? id.slice(0, -1) : id.slice(0, 54);
  };
  const databases = (kind: 'rds-instance' | 'aurora-cluster', db: string, snap: string) =>
    sorted(
      services.flatMap(([name, svc]) =>
        (svc.databases ?? [])
          .filter((d) => d.kind === kind)
          .flatMap((d) => [
            `${ARN}:rds:<AWS::Region>:<AWS::AccountId>:${db}:${d.identifier}`,
            `${ARN}:rds:<AWS::Region>:<AWS::AccountId>:${snap}:${snapshotPrefix(name)}*`,
          ]),
      ),
    );
  return {
    deploymentsTable: [`<${tableId}.Arn>`],
    deploymentsHistory: [`<${tableId}.Arn>/index/history`],
    notificationsTopic: [`<${topicId}>`],
    anyResource: ['*'],
    latencyAlarms: services.map(([name]) => alarm(alarmName(catalog.appName, name, 'latency'))),
    serviceAlarms: services.flatMap(([name, svc]) =>
      serviceAlarmNames(catalog.appName, name, svc).map(alarm),
    ),
    releaseExecutions: services.map(
      ([name]) =>
        `${ARN}:states:<AWS::Region>:<AWS::AccountId>:execution:${stateMachineName(catalog.appName, name)}:*`,
    ),
    releaseStateMachines: sorted(
      resourcesOfType(template, 'AWS::StepFunctions::StateMachine').map((id) => `<${id}>`),
    ),
    rollbackFunction: [`<${functionOf(template, 'executionStopped')}.Arn>`],
    catalogClusters: sorted(
      services.map(([, s]) => `${ARN}:eks:${s.cluster.region}:<AWS::AccountId>:cluster/${s.cluster.name}`),
    ),
    instanceDatabases: databases('rds-instance', 'db', 'snapshot'),
    clusterDatabases: databases('aurora-cluster', 'cluster', 'cluster-snapshot'),
    catalogPipelines: sorted(
      services.flatMap(([, s]) =>
        s.duties?.requireTestsFrom
          ? [`${ARN}:codepipeline:<AWS::Region>:<AWS::AccountId>:${s.duties.requireTestsFrom.pipeline}`]
          : [],
      ),
    ),
  };
}

/** The logical ID of `task`'s function. */
function functionOf(template: CfnTemplate, task: TaskKey): string {
  return resourcesOfType(template, 'AWS::Lambda::Function').find(
    (id) => template.Resources[id]!.Properties!.Environment?.Variables?.[TASK_ENV] === task,
  )!;
}

/** The logical ID of the answer endpoint's function: the one function that is not a task's. */
function endpointFunction(template: CfnTemplate): string {
  const ids = resourcesOfType(template, 'AWS::Lambda::Function').filter(
    (id) => template.Resources[id]!.Properties!.Environment?.Variables?.[TASK_ENV] === undefined,
  );
  if (ids.length !== 1) throw new Error(`expected one answer endpoint function, found ${ids.join(', ')}`);
  return ids[0]!;
}

/** Who is checked: a task, or the answer endpoint. */
type Checked = TaskKey | 'answerEndpoint';
const CHECKED: readonly Checked[] = [...TASK_KEYS, 'answerEndpoint'];

function roleOf(template: CfnTemplate, who: Checked): string {
  if (who !== 'answerEndpoint') return rolesOf(template)[who];
  return template.Resources[endpointFunction(template)]!.Properties!.Role['Fn::GetAtt'][0];
}

/** The pairs the table says a task's (or the endpoint's) role allows, plus its own log group and X-Ray. */
function expectedPairs(template: CfnTemplate, catalog: Catalog, who: Checked, inVpc = false): string[] {
  const fn = who === 'answerEndpoint' ? endpointFunction(template) : functionOf(template, who);
  const grants: readonly Grant[] = who === 'answerEndpoint' ? endpointGrants() : taskGrants(who);
  const targets = targetArns(template, catalog);
  const [keyId] = resourcesOfType(template, 'AWS::KMS::Key');
  const logGroup = template.Resources[fn]!.Properties!.LoggingConfig.LogGroup.Ref as string;
  const pairs = [
    `logs:CreateLogStream <${logGroup}.Arn>`,
    `logs:PutLogEvents <${logGroup}.Arn>`,
    'xray:PutTelemetryRecords *',
    'xray:PutTraceSegments *',
  ];
  // In a VPC (ReleaseStackProps.network), Lambda attaches the cluster tasks' functions with their
  // roles: the ENI actions of infra/constructs/task-network.ts, on "*" (they have no resource types).
  if (inVpc && who !== 'answerEndpoint' && CLUSTER_TASKS.includes(who)) {
    for (const a of VPC_ENI_ACTIONS) pairs.push(`${a} *`);
  }
  // Lambda itself sends a failed asynchronous event to the function's on-failure destination with
  // the function's role (the dead-letter queue of the two EventBridge functions); CDK's
  // SqsDestination grants its sendMessages set.
  for (const id of resourcesOfType(template, 'AWS::Lambda::EventInvokeConfig')) {
    const c = template.Resources[id]!.Properties!;
    if (c.FunctionName?.Ref !== fn) continue;
    const queue = c.DestinationConfig?.OnFailure?.Destination?.['Fn::GetAtt']?.[0];
    for (const a of ['sqs:GetQueueAttributes', 'sqs:GetQueueUrl', 'sqs:SendMessage'])
      pairs.push(`${a} <${queue}.Arn>`);
  }
  const keyActions = new Set<string>();
  for (const g of grants) {
    const arns = targets[g.on];
    for (const a of g.actions) for (const arn of arns) pairs.push(`${a} ${arn}`);
    if (arns.length > 0) for (const k of DATA_KEY_ACTIONS[g.on] ?? []) keyActions.add(k);
  }
  for (const k of keyActions) pairs.push(`${k} <${keyId}.Arn>`);
  return sorted(pairs);
}

/** Every difference between the roles of a template and the table: empty when they agree. */
function permissionDifferences(template: CfnTemplate, catalog: Catalog, inVpc = false): string[] {
  const problems: string[] = [];
  for (const task of CHECKED) {
    const actual = new Set(allowedPairs(template, roleOf(template, task)));
    const expected = new Set(expectedPairs(template, catalog, task, inVpc));
    for (const p of actual)
      if (!expected.has(p)) problems.push(`${task}: allows ${p}, which its code does not call`);
    for (const p of expected) if (!actual.has(p)) problems.push(`${task}: lacks ${p}, which its code calls`);
  }
  return problems;
}

const catalogs = {
  'the sample catalog': { input: sample, catalog: parseCatalog(sample) },
  'a catalog with databases and a tests pipeline': {
    input: catalogWithDatabases,
    catalog: parseCatalog(catalogWithDatabases),
  },
};

describe('each role allows exactly what its task calls', () => {
  test.each(Object.keys(catalogs))('%s: every function role equals the table', (name) => {
    const { input, catalog } = catalogs[name as keyof typeof catalogs];
    const template = synthTemplate({ catalog: input });
    expect(permissionDifferences(template, catalog)).toEqual([]);
  });

  test('with the cluster tasks in a VPC (private endpoint): the table plus the ENI actions on the cluster tasks only', () => {
    const { input, catalog } = catalogs['a catalog with databases and a tests pipeline'];
    const template = synthTemplate({
      catalog: input,
      network: (app) => ({
        endpointAccess: 'private',
        vpc: ec2.Vpc.fromVpcAttributes(new Stack(app, 'ClusterNetwork'), 'Vpc', {
          vpcId: 'vpc-0ddd0000000000001',
          availabilityZones: ['us-east-1a', 'us-east-1b'],
          isolatedSubnetIds: ['subnet-0bbb0000000000001', 'subnet-0bbb0000000000002'],
          isolatedSubnetRouteTableIds: ['rtb-0bbb1', 'rtb-0bbb2'],
        }),
      }),
    });
    expect(permissionDifferences(template, catalog, true)).toEqual([]);
    // And the check sees them: without the VPC allowance, each cluster task's ENI pairs are extra.
    const extra = permissionDifferences(template, catalog);
    expect(extra).toHaveLength(CLUSTER_TASKS.length * VPC_ENI_ACTIONS.length);
    expect(extra[0]).toMatch(/: allows ec2:[A-Za-z]+ \*, which its code does not call$/);
  });

  test('the roles differ: each task has its own role, and their permissions are not all alike', () => {
    const template = synthTemplate();
    const roles = rolesOf(template);
    expect(new Set(Object.values(roles)).size).toBe(TASK_KEYS.length);
    expect(allowedPairs(template, roles.validateInput)).toEqual(
      expectedPairs(template, catalogs['the sample catalog'].catalog, 'validateInput'),
    );
    // validateInput touches nothing in AWS: its own logs and X-Ray only.
    expect(allowedPairs(template, roles.validateInput)).toHaveLength(4);
    expect(new Set(TASK_KEYS.map((t) => allowedPairs(template, roles[t]).length)).size).toBeGreaterThan(5);
  });

  test('SNS publish, the data key, alarm and execution actions only where the code uses them', () => {
    const template = synthTemplate({ catalog: catalogWithDatabases });
    const roles = rolesOf(template);
    const holders = (prefix: string) =>
      TASK_KEYS.filter((t) => allowedPairs(template, roles[t]).some((p) => p.startsWith(prefix)));
    const using = (...calls: AwsPortCall[]) =>
      TASK_KEYS.filter((t) => calls.some((c) => TASK_AWS_CALLS[t].includes(c)));
    expect(holders('sns:Publish')).toEqual(using('Notifier.notify'));
    expect(holders('kms:')).toEqual(
      TASK_KEYS.filter((t) => TASK_AWS_CALLS[t].length > 0 && t !== 'validateInput'),
    );
    expect(holders('cloudwatch:PutMetricAlarm')).toEqual(
      using('AlarmThresholds.setLatencyThreshold', 'AlarmThresholds.restore'),
    );
    expect(holders('states:StopExecution')).toEqual(['alarmRollback']);
    expect(holders('rds:Create')).toEqual(['snapshotDatabase']);
    expect(holders('eks:DescribeCluster')).toEqual(TASK_KEYS.filter((t) => CLUSTER_TASKS.includes(t)));
  });
});

// ---- 3. the comparison bites --------------------------------------------------------------------

/** The shipped template with `change` applied to the statements of `task`'s role. */
function changed(
  task: Checked,
  change: (statements: Record<string, unknown>[], pairs: string[]) => void,
): CfnTemplate {
  const copy = structuredClone(synthTemplate()) as CfnTemplate;
  const roleId = roleOf(copy, task);
  const policy = Object.values(copy.Resources).find(
    (r) =>
      r.Type === 'AWS::IAM::Policy' &&
      (r.Properties?.Roles ?? []).some((x: { Ref?: string }) => x.Ref === roleId),
  )!;
  change(policy.Properties!.PolicyDocument.Statement, allowedPairs(copy, roleId));
  return copy;
}

describe('a role with one permission too many or too few fails the comparison', () => {
  const catalog = catalogs['the sample catalog'].catalog;

  test.each(CHECKED)('%s: widened by one (action, resource) pair', (task) => {
    const template = synthTemplate();
    const mine = new Set(allowedPairs(template, roleOf(template, task)));
    // A pair another function has and this one does not (StopExecution for all but alarmRollback).
    const extra = CHECKED.flatMap((t) => allowedPairs(template, roleOf(template, t))).find(
      (p) => !mine.has(p) && !p.startsWith('logs:'),
    )!;
    const [action, resource] = extra.split(' ') as [string, string];
    const widened = changed(task, (statements) => {
      statements.push({ Effect: 'Allow', Action: action, Resource: reparse(resource) });
    });
    expect(permissionDifferences(widened, catalog)).toEqual([
      `${task}: allows ${extra}, which its code does not call`,
    ]);
  });

  test.each(CHECKED)('%s: narrowed by one (action, resource) pair', (task) => {
    let removed = '';
    const narrowed = changed(task, (statements) => {
      // Take the last statement apart (X-Ray and logs come first) and put back all its pairs but
      // one: its last action on its first resource.
      const s = statements.pop() as { Action: string | string[]; Resource: unknown };
      const actions = [s.Action].flat();
      const resources = [s.Resource].flat();
      const dropped = actions[actions.length - 1]!;
      removed = `${dropped} ${render(resources[0])}`;
      if (actions.length > 1) {
        statements.push({ Effect: 'Allow', Action: actions.slice(0, -1), Resource: resources });
      }
      if (resources.length > 1)
        statements.push({ Effect: 'Allow', Action: dropped, Resource: resources.slice(1) });
    });
    const diff = permissionDifferences(narrowed, catalog);
    expect(diff).toEqual([`${task}: lacks ${removed}, which its code calls`]);
  });
});

/** The template form of a rendered resource: `<Id.Attr>` and `<Id>` back to references. */
function reparse(rendered: string): unknown {
  const ref = /^<([A-Za-z0-9]+)(?:\.([A-Za-z]+))?>(.*)$/.exec(rendered);
  if (!ref) {
    const parts = rendered.split(/(<AWS::[A-Za-z]+>)/).filter((p) => p !== '');
    return parts.length === 1
      ? rendered
      : { 'Fn::Join': ['', parts.map((p) => (/^<AWS::/.test(p) ? { Ref: p.slice(1, -1) } : p))] };
  }
  const [, id, attr, rest] = ref as unknown as [string, string, string | undefined, string];
  const base = attr ? { 'Fn::GetAtt': [id, attr] } : { Ref: id };
  return rest === '' ? base : { 'Fn::Join': ['', [base, rest]] };
}

// ---- the cluster side ---------------------------------------------------------------------------

describe('EKS access: each cluster task in its own read or write group, no other function at all', () => {
  test.each(TASK_KEYS)('%s', (task) => {
    const template = synthTemplate();
    const catalog = catalogs['the sample catalog'].catalog;
    const roleId = rolesOf(template)[task];
    const entries = resourcesOfType(template, 'AWS::EKS::AccessEntry')
      .map((id) => template.Resources[id]!.Properties!)
      .filter((p) => p.PrincipalArn['Fn::GetAtt']?.[0] === roleId)
      .map((p) => ({
        cluster: p.ClusterName,
        groups: p.KubernetesGroups,
        type: p.Type,
        policies: p.AccessPolicies,
      }));
    const access = CLUSTER_ACCESS[task];
    const clusters = sorted(Object.values(catalog.services).map((s) => s.cluster.name));
    expect(entries).toEqual(
      access === undefined
        ? []
        : clusters.map((cluster) => ({
            cluster,
            groups: [kubernetesGroup(catalog.appName, access)],
            type: 'STANDARD',
            policies: undefined,
          })),
    );
  });

  test('the group names carry the app name, so two apps in one cluster stay apart', () => {
    expect(kubernetesGroup('shop-a', 'read')).toBe('tps-deploy-shop-a-read');
    expect(kubernetesGroup('shop-b', 'write')).toBe('tps-deploy-shop-b-write');
  });
});
