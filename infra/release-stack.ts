import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ArnFormat, CfnOutput, Duration, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import type * as logs from 'aws-cdk-lib/aws-logs';
import * as sns from 'aws-cdk-lib/aws-sns';
import type { Construct } from 'constructs';
import type { GrantTarget } from '../functions/contract/permissions.js';
import { CLUSTER_TASKS, clusterAccessOf } from '../functions/contract/tasks.js';
import { alarmName } from '../functions/domain/alarms.js';
import { executionTimeoutSeconds } from '../functions/domain/budget.js';
import { type Catalog, resolvePhase } from '../functions/domain/config.js';
import { PHASE_NAMES, RUNBOOK } from '../functions/domain/defaults.js';
import { serviceAlarmNames } from '../functions/domain/gates.js';
import { pascalCase } from '../functions/domain/text.js';
import { snapshotIdFor } from '../functions/release/migration.js';
import {
  AlarmRollbackRule,
  retryFunctionErrors,
  STOPPED_EVENT_DELIVERY,
} from './constructs/alarm-rollback-rule.js';
import { AnswerEndpoint } from './constructs/answer-endpoint.js';
import { ClusterAccess } from './constructs/cluster-access.js';
import { DeploymentTable } from './constructs/deployment-table.js';
import { ReleasePipeline } from './constructs/release-pipeline.js';
import { type RollbackTriggers, ServiceAlarms } from './constructs/service-alarms.js';
import { ServiceDashboard } from './constructs/service-dashboard.js';
import { TaskFunctions } from './constructs/task-functions.js';
import { endpointsFor, type ReleaseNetwork, TaskNetwork } from './constructs/task-network.js';
import { TaskPermissions } from './constructs/task-permissions.js';
import {
  dashboardName,
  kubernetesGroup,
  stateMachineLogGroupName,
  stateMachineName,
  tableName,
  topicName,
} from './names.js';

/** Environment variables the task functions read. */
export const FUNCTION_ENV = {
  tableName: 'TPS_TABLE_NAME',
  topicArn: 'TPS_TOPIC_ARN',
} as const;

/** The repository root, two levels up from this file (infra/release-stack.ts). */
export const PROJECT_ROOT: string = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/**
 * The services a deployed stack would judge on synthetic traffic: `metrics.source: 'synthetic'`
 * without `sandbox: true`. {@link ReleaseStack} refuses them (the local runner synthesizes the same
 * stack, so its catalogs mark their services as sandboxes).
 */
export function syntheticServices(catalog: Catalog): string[] {
  return Object.entries(catalog.services)
    .filter(([, svc]) => svc.metrics.source === 'synthetic' && svc.sandbox !== true)
    .map(([name]) => name);
}

/** Props of {@link ReleaseStack}. */
export interface ReleaseStackProps extends StackProps {
  /** The parsed service catalog (`parseCatalog` of tps.config.ts). */
  readonly catalog: Catalog;
  /** Repository root holding package-lock.json and functions/. @default PROJECT_ROOT */
  readonly projectRoot?: string;
  /** Retention of the functions' and state machines' log groups. @default logs.RetentionDays.THREE_MONTHS */
  readonly logRetention?: logs.RetentionDays;
  /** Rollback triggers of the alarms. @default RUNBOOK.rollbackTriggers */
  readonly triggers?: RollbackTriggers;
  /**
   * How the functions that reach the cluster (CLUSTER_TASKS) get to its API: the clusters'
   * endpoint access and, for a private endpoint, the VPC, subnets and security groups they run in
   * and whether the VPC endpoints they need are created (docs/deploying.md, "Reaching the
   * cluster: EKS endpoint modes"). The other functions and the answer endpoint stay outside any VPC.
   * @default { endpointAccess: 'public' }: every function outside any VPC
   */
  readonly network?: ReleaseNetwork;
}

/**
 * Everything tps-deploy runs on in one account and region: the task functions, the deployments
 * table, the notifications topic, and per catalog service a release state machine, its rollback
 * alarms and a dashboard; plus the alarm-to-rollback event rule and the EKS access entries.
 */
export class ReleaseStack extends Stack {
  /** The release state machine of each service. */
  readonly pipelines: Readonly<Record<string, ReleasePipeline>>;
  readonly functions: TaskFunctions;
  readonly table: DeploymentTable;
  readonly topic: sns.Topic;
  readonly alarms: Readonly<Record<string, ServiceAlarms>>;
  readonly alarmRule: AlarmRollbackRule;
  /** The verified answer endpoint (function URL, AWS_IAM): the only way a person answers a release. */
  readonly answerEndpoint: AnswerEndpoint;
  /** The cluster tasks' VPC placement, security group and VPC endpoints (none by default). */
  readonly network: TaskNetwork;

  constructor(scope: Construct, id: string, props: ReleaseStackProps) {
    super(scope, id, props);
    const { catalog } = props;
    const services = Object.entries(catalog.services);
    if (services.length === 0) {
      throw new Error(
        'ReleaseStack: catalog.services is empty. Add at least one service to tps.config.ts (see the samples there).',
      );
    }
    const synthetic = syntheticServices(catalog);
    if (synthetic.length > 0) {
      const what = synthetic.map(
        (name) =>
          `service "${name}" has metrics.source "synthetic": its releases would be judged on made-up traffic and it gets no error-rate or p99 rollback alarms`,
      );
      const marks = synthetic.map((name) => `services.${name}.sandbox: true`);
      throw new Error(
        `ReleaseStack: ${what.join('; ')}. Set metrics.source to "cloudwatch" in tps.config.ts, or, for a sandbox nobody depends on, say so with ${marks.join(', ')}.`,
      );
    }
    const appName = catalog.appName;

    // ---- data: one customer-managed key for the table and the topic ----------------------------
    const key = new kms.Key(this, 'DataKey', {
      description: `${appName}: encrypts the deployments table and the notifications topic`,
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    // CloudWatch alarm actions publish to the encrypted topic (the dead-letter alarm does).
    key.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'AllowCloudWatchAlarmsToPublishToEncryptedTopic',
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        resources: ['*'],
      }),
    );
    this.table = new DeploymentTable(this, 'Deployments', {
      tableName: tableName(appName),
      encryptionKey: key,
    });
    this.topic = new sns.Topic(this, 'Notifications', {
      topicName: topicName(appName),
      displayName: `${appName} releases`,
      masterKey: key,
      enforceSSL: true,
    });

    // ---- the cluster tasks' network (a VPC only for a private or CIDR-limited endpoint) ---------
    // A target with no ARNs is granted to nobody, so its service needs no endpoint either.
    const granted = (target: GrantTarget) => {
      const all = services.map(([, s]) => s);
      if (target === 'catalogPipelines') return all.some((s) => s.duties?.requireTestsFrom !== undefined);
      if (target === 'instanceDatabases')
        return all.some((s) => (s.databases ?? []).some((d) => d.kind === 'rds-instance'));
      if (target === 'clusterDatabases')
        return all.some((s) => (s.databases ?? []).some((d) => d.kind === 'aurora-cluster'));
      return true;
    };
    this.network = new TaskNetwork(this, 'Network', {
      network: props.network ?? { endpointAccess: 'public' },
      endpoints: endpointsFor(CLUSTER_TASKS, granted),
    });

    // ---- functions -----------------------------------------------------------------------------
    this.functions = new TaskFunctions(this, 'Tasks', {
      ...(this.network.functionNetwork
        ? { network: { tasks: CLUSTER_TASKS, config: this.network.functionNetwork } }
        : {}),
      projectRoot: props.projectRoot ?? PROJECT_ROOT,
      environment: {
        [FUNCTION_ENV.tableName]: this.table.table.tableName,
        [FUNCTION_ENV.topicArn]: this.topic.topicArn,
      },
      serviceName: appName,
      logRetention: props.logRetention,
    });

    // ---- per service: state machine, alarms, dashboard -----------------------------------------
    const pipelines: Record<string, ReleasePipeline> = {};
    const alarms: Record<string, ServiceAlarms> = {};
    for (const [name, svc] of services) {
      const id = pascalCase(name);
      const weights = Object.fromEntries(PHASE_NAMES.map((p) => [p, resolvePhase(svc, p).weight])) as Record<
        (typeof PHASE_NAMES)[number],
        number
      >;
      const pipeline = new ReleasePipeline(this, `${id}Release`, {
        stateMachineName: stateMachineName(appName, name),
        logGroupName: stateMachineLogGroupName(appName, name),
        functions: this.functions.functions,
        weights,
        readinessPollSeconds: RUNBOOK.readinessPollSeconds,
        timeout: Duration.seconds(executionTimeoutSeconds(svc)),
        logRetention: props.logRetention,
      });
      pipelines[name] = pipeline;
      const serviceAlarms = new ServiceAlarms(this, `${id}Alarms`, {
        appName,
        serviceName: name,
        service: svc,
        triggers: props.triggers,
      });
      alarms[name] = serviceAlarms;
      new ServiceDashboard(this, `${id}Dashboard`, {
        dashboardName: dashboardName(appName, name),
        serviceName: name,
        service: svc,
        alarms: serviceAlarms.alarms,
        executionLogGroup: pipeline.logGroup,
        stateMachineName: stateMachineName(appName, name),
      });
      new CfnOutput(this, `${id}StateMachineArn`, {
        description: `Release state machine of service ${name}`,
        value: pipeline.stateMachine.stateMachineArn,
      });
    }
    this.pipelines = pipelines;
    this.alarms = alarms;

    // ---- alarm -> rollback -------------------------------------------------------------------------
    this.alarmRule = new AlarmRollbackRule(this, 'AlarmRollback', {
      alarms: Object.values(alarms).flatMap((a) => a.all),
      handler: this.functions.functions.alarmRollback,
      topic: this.topic,
    });

    // ---- stopped, timed-out or failed execution -> cleanup --------------------------------------------
    // Step Functions runs no Catch when a person stops an execution: this rule is the cleanup path
    // (functions/release/stopped.ts). FAILED covers "Roll Back" itself failing (the deployments
    // table unreachable longer than its retries): Lambda retries a failing cleanup twice over a
    // few minutes, then the event lands in the alarmed dead-letter queue; the handler rolls back
    // only a release whose record still says RUNNING.
    retryFunctionErrors(this.functions.functions.executionStopped, this.alarmRule.deadLetterQueue);
    new events.Rule(this, 'ExecutionStopped', {
      description:
        'A stopped, timed-out or failed release still RUNNING is rolled back to its recorded version',
      eventPattern: {
        source: ['aws.states'],
        detailType: ['Step Functions Execution Status Change'],
        detail: {
          status: ['ABORTED', 'TIMED_OUT', 'FAILED'],
          stateMachineArn: Object.values(pipelines).map((p) => p.stateMachine.stateMachineArn),
        },
      },
      targets: [
        new targets.LambdaFunction(this.functions.functions.executionStopped, {
          retryAttempts: STOPPED_EVENT_DELIVERY.retryAttempts,
          maxEventAge: STOPPED_EVENT_DELIVERY.maxEventAge,
          deadLetterQueue: this.alarmRule.deadLetterQueue,
        }),
      ],
    });

    // ---- each function's permissions: functions/contract/permissions.ts -------------------------
    // ARNs are built from names, not from the state machines and alarms themselves: the state
    // machines depend on the functions, so referencing them back would be a cycle.
    const clusters = services.map(([, s]) => s.cluster);
    const alarmArn = (alarm: string) =>
      this.formatArn({
        service: 'cloudwatch',
        resource: 'alarm',
        resourceName: alarm,
        arnFormat: ArnFormat.COLON_RESOURCE_NAME,
      });
    // Snapshots before migrations: only of the databases the catalog lists, only snapshots named
    // like the ones the functions create (`tps-<service>-<deployment id>`, functions/release/migration.ts).
    const databases = (kind: 'rds-instance' | 'aurora-cluster') => [
      ...new Set(
        services.flatMap(([name, svc]) =>
          (svc.databases ?? [])
            .filter((d) => d.kind === kind)
            .flatMap((d) => [
              this.formatArn({
                service: 'rds',
                resource: kind === 'rds-instance' ? 'db' : 'cluster',
                resourceName: d.identifier,
                arnFormat: ArnFormat.COLON_RESOURCE_NAME,
              }),
              this.formatArn({
                service: 'rds',
                resource: kind === 'rds-instance' ? 'snapshot' : 'cluster-snapshot',
                resourceName: `${snapshotPrefix(name)}*`,
                arnFormat: ArnFormat.COLON_RESOURCE_NAME,
              }),
            ]),
        ),
      ),
    ];
    const executions = services.map(([name]) =>
      this.formatArn({
        service: 'states',
        resource: 'execution',
        resourceName: `${stateMachineName(appName, name)}:*`,
        arnFormat: ArnFormat.COLON_RESOURCE_NAME,
      }),
    );
    const grantTargets: Record<GrantTarget, string[]> = {
      deploymentsTable: [this.table.table.tableArn],
      deploymentsHistory: this.table.indexNames.map((index) => `${this.table.table.tableArn}/index/${index}`),
      notificationsTopic: [this.topic.topicArn],
      anyResource: ['*'],
      latencyAlarms: services.map(([name]) => alarmArn(alarmName(appName, name, 'latency'))),
      serviceAlarms: services.flatMap(([name, svc]) => serviceAlarmNames(appName, name, svc).map(alarmArn)),
      releaseExecutions: executions,
      // The endpoint's only (tasks are granted nothing on these: no cycle through the state machines).
      releaseStateMachines: Object.values(pipelines).map((p) => p.stateMachine.stateMachineArn),
      rollbackFunction: [this.functions.functions.executionStopped.functionArn],
      catalogClusters: [...new Set(clusters.map((c) => `${c.region}/${c.name}`))].map((rn) => {
        const [region, clusterName] = rn.split('/') as [string, string];
        return this.formatArn({ service: 'eks', region, resource: 'cluster', resourceName: clusterName });
      }),
      instanceDatabases: databases('rds-instance'),
      clusterDatabases: databases('aurora-cluster'),
      catalogPipelines: [
        ...new Set(
          services.flatMap(([, svc]) =>
            svc.duties?.requireTestsFrom ? [svc.duties.requireTestsFrom.pipeline] : [],
          ),
        ),
      ].map((pipeline) => this.formatArn({ service: 'codepipeline', resource: pipeline })),
    };
    const wildcardReasons: Record<string, string> = {};
    for (const arn of executions) {
      wildcardReasons[arn] =
        'Executions of the tps-deploy state machines only; execution names are chosen at start time, so they cannot be listed in advance.';
    }
    for (const arn of [...grantTargets.instanceDatabases, ...grantTargets.clusterDatabases].filter((r) =>
      r.endsWith('*'),
    )) {
      wildcardReasons[arn] =
        'Snapshots of this service named tps-<service>-<deployment id>: the deployment id is chosen at start time, so the names cannot be listed in advance.';
    }
    new TaskPermissions(this, 'Permissions', {
      roles: this.functions.roles,
      targets: grantTargets,
      dataKey: key,
      wildcardReasons,
    });

    // ---- the answer endpoint: answers, holds, aborts, rollbacks, unlocks by verified callers (#15) --
    // Its role allows exactly what its code calls (ENDPOINT_AWS_CALLS), granted like the tasks'.
    this.answerEndpoint = new AnswerEndpoint(this, 'Answer', {
      projectRoot: props.projectRoot ?? PROJECT_ROOT,
      key,
      targets: grantTargets,
      wildcardReasons,
      rollbackFunction: this.functions.functions.executionStopped,
      stateMachines: Object.fromEntries(Object.entries(pipelines).map(([name, p]) => [name, p.stateMachine])),
      environment: { [FUNCTION_ENV.tableName]: this.table.table.tableName },
      serviceName: appName,
      logRetention: props.logRetention,
    });
    new CfnOutput(this, 'AnswerUrl', {
      description:
        'Answer endpoint (function URL, AWS_IAM): tps-deploy approve/reject/promote/hold/abort/rollback/unlock sign their requests to it',
      value: this.answerEndpoint.url.url,
    });

    // ---- each cluster task's access to the catalog clusters, as its own Kubernetes group ---------
    new ClusterAccess(this, 'ClusterAccess', {
      clusters,
      principals: CLUSTER_TASKS.map((task) => ({
        id: pascalCase(task),
        role: this.functions.roles[task],
        kubernetesGroups: [kubernetesGroup(appName, clusterAccessOf(task))],
      })),
    });

    if (this.network.securityGroup) {
      new CfnOutput(this, 'ClusterTasksSecurityGroup', {
        description:
          "Security group of the functions that reach the cluster: allow it in on TCP 443 in the EKS cluster's security group",
        value: this.network.securityGroup.securityGroupId,
      });
    }

    new CfnOutput(this, 'TableName', { description: 'Deployments table', value: this.table.table.tableName });
    new CfnOutput(this, 'TopicArn', {
      description: 'Release notifications topic',
      value: this.topic.topicArn,
    });
  }
}

/**
 * The start every snapshot id of a service has (`tps-<service>-`), as functions/release/migration.ts
 * builds them; a long service name keeps the first 54 characters that id truncation keeps.
 */
function snapshotPrefix(service: string): string {
  const id = snapshotIdFor(service, 'x');
  return id.length < 63 ? id.slice(0, -1) : id.slice(0, 54);
}
