import { ArnFormat, CfnOutput, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import type * as logs from 'aws-cdk-lib/aws-logs';
import * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import type { GrantTarget } from '../functions/contract/permissions.js';
import {
  RUNBOOK_OUTPUT_KEY,
  RUNBOOK_OUTPUT_SCHEMA,
  type RunbookOutput,
} from '../functions/contract/runbook-output.js';
import { CLUSTER_TASKS, clusterAccessOf, TASK_KEYS, TASKS } from '../functions/contract/tasks.js';
import { alarmName } from '../functions/domain/alarms.js';
import { executionTimeoutSeconds } from '../functions/domain/budget.js';
import { type Catalog, type CatalogInput, parseCatalog, resolvePhase } from '../functions/domain/config.js';
import { PHASE_NAMES, RUNBOOK } from '../functions/domain/defaults.js';
import { ConfigError } from '../functions/domain/errors.js';
import { serviceAlarmNames } from '../functions/domain/gates.js';
import { pascalCase } from '../functions/domain/text.js';
import { snapshotIdFor } from '../functions/release/migration.js';
import {
  AlarmRollbackRule,
  retryFunctionErrors,
  STOPPED_EVENT_DELIVERY,
} from './constructs/alarm-rollback-rule.js';
import { ANSWER_ENTRY, AnswerEndpoint } from './constructs/answer-endpoint.js';
import { ClusterAccess } from './constructs/cluster-access.js';
import { DeploymentTable } from './constructs/deployment-table.js';
import {
  codeSourceProblems,
  type FunctionCodeSource,
  functionCodeSource,
  RunbookCode,
  writeCatalogFile,
} from './constructs/function-code.js';
import { ReleasePipeline } from './constructs/release-pipeline.js';
import { type RollbackTriggers, ServiceAlarms } from './constructs/service-alarms.js';
import { ServiceDashboard } from './constructs/service-dashboard.js';
import { TaskFunctions } from './constructs/task-functions.js';
import {
  endpointsFor,
  networkProblems,
  type ReleaseNetwork,
  TaskNetwork,
} from './constructs/task-network.js';
import { TaskPermissions } from './constructs/task-permissions.js';
import { acknowledgeNag, nagResource } from './nag.js';
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

/**
 * The services a deployed stack would judge on synthetic traffic: `metrics.source: 'synthetic'`
 * without `sandbox: true`. {@link ReleaseRunbook} refuses them (the local runner synthesizes the
 * same construct, so its catalogs mark their services as sandboxes).
 */
export function syntheticServices(catalog: Catalog): string[] {
  return Object.entries(catalog.services)
    .filter(([, svc]) => svc.metrics.source === 'synthetic' && svc.sandbox !== true)
    .map(([name]) => name);
}

/** Props of {@link ReleaseRunbook}. */
export interface ReleaseRunbookProps {
  /**
   * The service catalog: which services are released, on which EKS cluster, how they are measured
   * and who answers their releases (the object `defineCatalog` returns, or the parsed catalog).
   * Checked with `parseCatalog` at synth: a bad catalog throws an error naming every bad field,
   * and nothing is built. The functions read the same catalog at run time from the `catalog.json`
   * shipped with their code.
   *
   * Each service names its cluster as `cluster: { name, region }`; the functions call
   * `eks:DescribeCluster` on that name and the construct creates one EKS access entry per cluster
   * task and cluster. The clusters are not passed as `eks.ICluster` (see the class docs).
   */
  readonly catalog: CatalogInput;
  /**
   * How the functions that reach the clusters (the cluster tasks) get to the clusters' API
   * endpoint: the endpoint access and, for a private endpoint, the VPC, subnets and security groups
   * they run in and whether the VPC endpoints they need are created (docs/deploying.md, "Reaching
   * the cluster: EKS endpoint modes"). The other functions and the answer endpoint stay outside any VPC.
   * @default { endpointAccess: 'public' }: every function outside any VPC
   */
  readonly network?: ReleaseNetwork;
  /**
   * The topic release notifications go to (and the dead-letter alarm notifies). When it is
   * encrypted, pass it with its key (`sns.Topic.fromTopicAttributes(..., { keyArn })` or your
   * `sns.Topic`): the roles that publish get `kms:Decrypt`/`kms:GenerateDataKey*` on that key.
   * @default a topic named `<appName>-notifications`, encrypted with the encryption key, SSL only
   */
  readonly topic?: sns.ITopic;
  /**
   * The customer-managed key that encrypts the deployments table (and the topic the construct
   * creates). A key given here keeps its own key policy: when the construct creates the topic with
   * it, allow `cloudwatch.amazonaws.com` `kms:Decrypt` and `kms:GenerateDataKey*` in that policy,
   * or the dead-letter alarm cannot notify.
   * @default a new key with rotation on, retained when the stack is deleted
   */
  readonly encryptionKey?: kms.IKey;
  /**
   * Retention of the functions' and state machines' log groups.
   * @default logs.RetentionDays.THREE_MONTHS
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * When the rollback alarms fire (error rate, p99, circuit breaker, OOM kills).
   * @default RUNBOOK.rollbackTriggers (functions/domain/defaults.ts)
   */
  readonly triggers?: RollbackTriggers;
  /**
   * Where the functions' code comes from: the installed package's prebuilt bundles, or this
   * repository's sources bundled with esbuild at synth (NodejsFunction).
   * @default the prebuilt bundles next to the compiled construct when they exist, else the sources
   */
  readonly code?: FunctionCodeSource;
}

/** The runbook of each stack: a stack has at most one (its one `TpsDeployRunbook` output). */
const RUNBOOK_OF_STACK = new WeakMap<Stack, string>();

/**
 * The release runbook for services on Amazon EKS, as one construct: per catalog service a Step
 * Functions state machine (canary, staging, blue-green production, validation windows, automatic
 * rollback), its rollback alarms and a dashboard; the task functions, the deployments table, the
 * notifications topic and its key; the alarm-to-rollback and stopped-execution rules; the verified
 * answer endpoint (a function URL with AuthType AWS_IAM); and the EKS access entries of the
 * functions that act on the clusters.
 *
 * It writes one CloudFormation output, `TpsDeployRunbook` (functions/contract/runbook-output.ts),
 * which the CLI's `--stack` and `tps-deploy doctor` read: so a stack holds at most one
 * ReleaseRunbook. Use one stack per runbook (per `appName`).
 *
 * **Clusters are named by the catalog, not passed as `eks.ICluster`.** Each catalog service names
 * its cluster (`cluster: { name, region }`) and the functions look the cluster up by that name at
 * run time (`eks:DescribeCluster`, then an EKS token), so the catalog stays the one source the
 * functions, the CLI and the local runner read. An `eks.ICluster` would not add what the construct
 * needs: the interface does not expose the cluster's endpoint access (public, private or both),
 * and an imported cluster knows neither that nor its VPC. So the endpoint access and the VPC are
 * given once, in `network`, for every cluster task (they serve all services); for a private
 * endpoint, pass the clusters' VPC (`cluster.vpc` of your `eks.Cluster`, or `ec2.Vpc.fromLookup`)
 * and allow the cluster tasks' security group in on TCP 443 in the cluster's security group
 * (the `ClusterTasksSecurityGroup` output). The clusters must be in the stack's region with
 * authentication mode API or API_AND_CONFIG_MAP.
 *
 * Grants: {@link grantStartRelease} (a pipeline that starts releases), {@link grantRead} (people
 * and tools that read releases), {@link grantOperate} (people who answer, hold, abort, roll back
 * and unlock through the answer endpoint).
 */
export class ReleaseRunbook extends Construct {
  /** The parsed catalog the runbook was built from (and that the functions run with). */
  readonly catalog: Catalog;
  /** The release state machine of each service. */
  readonly pipelines: Readonly<Record<string, ReleasePipeline>>;
  /** The task functions, their roles and log groups. */
  readonly functions: TaskFunctions;
  /** The deployments table. */
  readonly table: DeploymentTable;
  /** The notifications topic (given or created). */
  readonly topic: sns.ITopic;
  /** The key that encrypts the table (given or created). */
  readonly encryptionKey: kms.IKey;
  /** The rollback alarms of each service. */
  readonly alarms: Readonly<Record<string, ServiceAlarms>>;
  /** The alarm-to-rollback event rule and its dead-letter queue. */
  readonly alarmRule: AlarmRollbackRule;
  /** The verified answer endpoint (function URL, AWS_IAM): the only way a person answers a release. */
  readonly answerEndpoint: AnswerEndpoint;
  /** The cluster tasks' VPC placement, security group and VPC endpoints (none by default). */
  readonly network: TaskNetwork;
  /** The name of each service's dashboard. */
  readonly dashboards: Readonly<Record<string, string>>;
  /** The `TpsDeployRunbook` output. */
  readonly output: CfnOutput;

  constructor(scope: Construct, id: string, props: ReleaseRunbookProps) {
    // Props first: every problem named before anything is added to the tree.
    const catalog = checkProps(scope, id, props);
    super(scope, id);
    const stack = Stack.of(this);
    RUNBOOK_OF_STACK.set(stack, this.node.path);
    this.catalog = catalog;
    const services = Object.entries(catalog.services);
    const appName = catalog.appName;

    // ---- data: one customer-managed key for the table and the topic ----------------------------
    let key: kms.IKey;
    if (props.encryptionKey) {
      key = props.encryptionKey;
    } else {
      const created = new kms.Key(this, 'DataKey', {
        description: `${appName}: encrypts the deployments table and the notifications topic`,
        enableKeyRotation: true,
        removalPolicy: RemovalPolicy.RETAIN,
      });
      // CloudWatch alarm actions publish to the encrypted topic (the dead-letter alarm does).
      created.addToResourcePolicy(
        new iam.PolicyStatement({
          sid: 'AllowCloudWatchAlarmsToPublishToEncryptedTopic',
          principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
          actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
          resources: ['*'],
        }),
      );
      key = created;
    }
    this.encryptionKey = key;
    this.table = new DeploymentTable(this, 'Deployments', {
      tableName: tableName(appName),
      encryptionKey: key,
    });
    this.topic =
      props.topic ??
      new sns.Topic(this, 'Notifications', {
        topicName: topicName(appName),
        displayName: `${appName} releases`,
        masterKey: key,
        enforceSSL: true,
      });
    const topicKey = props.topic ? (props.topic.masterKey ?? null) : key;

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
    const network = props.network ?? { endpointAccess: 'public' };
    this.network = new TaskNetwork(this, 'Network', {
      network,
      endpoints: endpointsFor(CLUSTER_TASKS, granted),
    });

    // ---- functions -----------------------------------------------------------------------------
    const code = new RunbookCode(props.code ?? functionCodeSource(), writeCatalogFile(catalog));
    this.functions = new TaskFunctions(this, 'Tasks', {
      ...(this.network.functionNetwork
        ? { network: { tasks: CLUSTER_TASKS, config: this.network.functionNetwork } }
        : {}),
      code,
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
    const dashboards: Record<string, string> = {};
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
      dashboards[name] = dashboardName(appName, name);
      new ServiceDashboard(this, `${id}Dashboard`, {
        dashboardName: dashboards[name],
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
    this.dashboards = dashboards;

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
      stack.formatArn({
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
              stack.formatArn({
                service: 'rds',
                resource: kind === 'rds-instance' ? 'db' : 'cluster',
                resourceName: d.identifier,
                arnFormat: ArnFormat.COLON_RESOURCE_NAME,
              }),
              stack.formatArn({
                service: 'rds',
                resource: kind === 'rds-instance' ? 'snapshot' : 'cluster-snapshot',
                resourceName: `${snapshotPrefix(name)}*`,
                arnFormat: ArnFormat.COLON_RESOURCE_NAME,
              }),
            ]),
        ),
      ),
    ];
    const executions = this.executionArns();
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
        return stack.formatArn({ service: 'eks', region, resource: 'cluster', resourceName: clusterName });
      }),
      instanceDatabases: databases('rds-instance'),
      clusterDatabases: databases('aurora-cluster'),
      catalogPipelines: [
        ...new Set(
          services.flatMap(([, svc]) =>
            svc.duties?.requireTestsFrom ? [svc.duties.requireTestsFrom.pipeline] : [],
          ),
        ),
      ].map((pipeline) => stack.formatArn({ service: 'codepipeline', resource: pipeline })),
    };
    const wildcardReasons: Record<string, string> = {};
    for (const arn of executions) wildcardReasons[arn] = EXECUTIONS_WILDCARD_REASON;
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
      topicKey,
      wildcardReasons,
    });

    // ---- the answer endpoint: answers, holds, aborts, rollbacks, unlocks by verified callers (#15) --
    // Its role allows exactly what its code calls (ENDPOINT_AWS_CALLS), granted like the tasks'.
    this.answerEndpoint = new AnswerEndpoint(this, 'Answer', {
      code,
      key,
      topicKey,
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
    const clusterAccess = CLUSTER_TASKS.map((task) => ({
      task,
      role: this.functions.roles[task],
      kubernetesGroups: [kubernetesGroup(appName, clusterAccessOf(task))],
    }));
    new ClusterAccess(this, 'ClusterAccess', {
      clusters,
      principals: clusterAccess.map((p) => ({
        id: pascalCase(p.task),
        role: p.role,
        kubernetesGroups: p.kubernetesGroups,
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

    // ---- the one output the CLI (--stack) and doctor read: functions/contract/runbook-output.ts ----
    const fnNetwork = this.network.functionNetwork;
    const value: RunbookOutput = {
      schema: RUNBOOK_OUTPUT_SCHEMA,
      appName,
      region: stack.region,
      tableName: this.table.table.tableName,
      topicArn: this.topic.topicArn,
      answerUrl: this.answerEndpoint.url.url,
      stateMachines: Object.fromEntries(
        Object.entries(pipelines).map(([name, p]) => [name, p.stateMachine.stateMachineArn]),
      ),
      dashboards,
      clusterAccess: clusterAccess.map((p) => ({
        task: p.task,
        roleArn: p.role.roleArn,
        kubernetesGroups: p.kubernetesGroups,
      })),
      network: {
        endpointAccess: network.endpointAccess,
        securityGroupIds: fnNetwork ? fnNetwork.securityGroups.map((sg) => sg.securityGroupId) : [],
        subnetIds: fnNetwork ? fnNetwork.vpc.selectSubnets(fnNetwork.vpcSubnets).subnetIds : [],
      },
      catalog: catalog as unknown as Record<string, unknown>,
    };
    this.output = new CfnOutput(this, 'RunbookOutput', {
      description:
        'tps-deploy runbook (JSON, schema 1): what the CLI --stack and tps-deploy doctor read (functions/contract/runbook-output.ts)',
      value: stack.toJsonString(value),
    });
    this.output.overrideLogicalId(RUNBOOK_OUTPUT_KEY);
  }

  /**
   * Lets `grantee` start releases: exactly `states:StartExecution` on the release state machine
   * of `service` (of every service when left out) and `states:DescribeExecution` on that state
   * machine's executions, so a pipeline can start a release and follow it (the CodePipeline Step
   * Functions action does both). Nothing else: no answer, stop or table access.
   * @param service a service of the catalog. @default every service
   */
  grantStartRelease(grantee: iam.IGrantable, service?: string): iam.Grant {
    const names = this.servicesNamed('grantStartRelease', service);
    const start = iam.Grant.addToPrincipal({
      grantee,
      actions: ['states:StartExecution'],
      resourceArns: names.map((n) => this.pipelines[n]!.stateMachine.stateMachineArn),
    });
    const describe = this.grantOnExecutions(grantee, ['states:DescribeExecution'], names);
    return start.combine(describe);
  }

  /**
   * Lets `grantee` read releases, as `tps-deploy status`, `history`, `watch` and `doctor` do:
   * the executions (`states:DescribeExecution`, `GetExecutionHistory`,
   * `DescribeStateMachineForExecution`), the state machines (`states:DescribeStateMachine`,
   * `ListExecutions`), the deployments table (`dynamodb:GetItem`, `Query`, with `kms:Decrypt` and
   * `kms:DescribeKey` on its key), the dashboards (`cloudwatch:GetDashboard`) and the stack's
   * outputs (`cloudformation:DescribeStacks` on this stack, for the `TpsDeployRunbook` output).
   */
  grantRead(grantee: iam.IGrantable): iam.Grant {
    const stack = Stack.of(this);
    const names = Object.keys(this.pipelines);
    const table = this.table.table.tableArn;
    const grants = [
      this.grantOnExecutions(
        grantee,
        ['states:DescribeExecution', 'states:DescribeStateMachineForExecution', 'states:GetExecutionHistory'],
        names,
      ),
      iam.Grant.addToPrincipal({
        grantee,
        actions: ['states:DescribeStateMachine', 'states:ListExecutions'],
        resourceArns: names.map((n) => this.pipelines[n]!.stateMachine.stateMachineArn),
      }),
      iam.Grant.addToPrincipal({
        grantee,
        actions: ['dynamodb:GetItem', 'dynamodb:Query'],
        resourceArns: [table, ...this.table.indexNames.map((index) => `${table}/index/${index}`)],
      }),
      iam.Grant.addToPrincipal({
        grantee,
        actions: ['kms:Decrypt', 'kms:DescribeKey'],
        resourceArns: [this.encryptionKey.keyArn],
      }),
      iam.Grant.addToPrincipal({
        grantee,
        actions: ['cloudwatch:GetDashboard'],
        resourceArns: names.map((n) =>
          stack.formatArn({
            service: 'cloudwatch',
            region: '',
            resource: 'dashboard',
            resourceName: this.dashboards[n]!,
          }),
        ),
      }),
    ];
    const stackArn = stack.formatArn({
      service: 'cloudformation',
      resource: 'stack',
      resourceName: `${stack.stackName}/*`,
    });
    grants.push(
      iam.Grant.addToPrincipal({
        grantee,
        actions: ['cloudformation:DescribeStacks'],
        resourceArns: [stackArn],
      }),
    );
    acknowledgeGranteeWildcard(
      this,
      grantee,
      stackArn,
      "This stack's ID: the stack ARN ends in a unique ID CloudFormation assigns at creation, so the one stack is named as <stack name>/*.",
    );
    return grants.reduce((all, g) => all.combine(g));
  }

  /**
   * Lets `grantee` operate releases through the verified answer endpoint (approve, reject, promote,
   * hold, abort, roll back, unlock, start as a verified person): `lambda:InvokeFunctionUrl` on the
   * endpoint's function, only with `lambda:FunctionUrlAuthType` `AWS_IAM`, plus everything of
   * {@link grantRead}. What each person may do is still decided by the catalog's `duties`; no
   * `states:SendTask*` is granted (only the endpoint's own role has it).
   */
  grantOperate(grantee: iam.IGrantable): iam.Grant {
    const invoke = iam.Grant.addToPrincipal({
      grantee,
      actions: ['lambda:InvokeFunctionUrl'],
      resourceArns: [this.answerEndpoint.fn.functionArn],
      conditions: { StringEquals: { 'lambda:FunctionUrlAuthType': 'AWS_IAM' } },
    });
    return invoke.combine(this.grantRead(grantee));
  }

  /** The executions of the named services' state machines (`<state machine name>:*`). */
  private executionArns(names: readonly string[] = Object.keys(this.catalog.services)): string[] {
    const stack = Stack.of(this);
    return names.map((name) =>
      stack.formatArn({
        service: 'states',
        resource: 'execution',
        resourceName: `${stateMachineName(this.catalog.appName, name)}:*`,
        arnFormat: ArnFormat.COLON_RESOURCE_NAME,
      }),
    );
  }

  private grantOnExecutions(grantee: iam.IGrantable, actions: string[], names: readonly string[]): iam.Grant {
    const arns = this.executionArns(names);
    for (const arn of arns) acknowledgeGranteeWildcard(this, grantee, arn, EXECUTIONS_WILDCARD_REASON);
    return iam.Grant.addToPrincipal({ grantee, actions, resourceArns: arns });
  }

  private servicesNamed(method: string, service: string | undefined): string[] {
    const all = Object.keys(this.pipelines);
    if (service === undefined) return all;
    if (!Object.hasOwn(this.pipelines, service)) {
      throw new Error(
        `ReleaseRunbook.${method}: service "${service}" is not in the catalog (services: ${all.join(', ')}). Pass one of them, or leave it out for every service.`,
      );
    }
    return [service];
  }
}

const EXECUTIONS_WILDCARD_REASON =
  'Executions of the tps-deploy state machines only; execution names are chosen at start time, so they cannot be listed in advance.';

/**
 * Acknowledges the cdk-nag finding a grant's wildcard ARN raises on the grantee's policy, when the
 * grantee is a construct (a role of the app); a principal from elsewhere has no policy here.
 */
function acknowledgeGranteeWildcard(scope: Construct, grantee: iam.IGrantable, arn: string, reason: string) {
  const principal = grantee.grantPrincipal as Partial<Construct>;
  if (principal.node === undefined) return;
  acknowledgeNag(principal as Construct, 'AwsSolutions-IAM5', nagResource(scope, arn), reason);
}

/**
 * Checks the props and returns the parsed catalog. Every problem is named in one error (field,
 * value, fix); nothing is built when there is one.
 */
function checkProps(scope: Construct, id: string, props: ReleaseRunbookProps): Catalog {
  const problems: string[] = [];
  const stack = Stack.of(scope);
  const other = RUNBOOK_OF_STACK.get(stack);
  if (other !== undefined) {
    problems.push(
      `stack ${stack.node.path} already has a ReleaseRunbook (${other}); a stack holds one, since it writes the one ${RUNBOOK_OUTPUT_KEY} output. Put this runbook in a stack of its own (one per appName)`,
    );
  }
  let catalog: Catalog | undefined;
  if (props.catalog === undefined || props.catalog === null || typeof props.catalog !== 'object') {
    problems.push(
      `catalog is ${JSON.stringify(props.catalog)}; pass the service catalog object (defineCatalog({ appName, services }))`,
    );
  } else {
    try {
      catalog = parseCatalog(props.catalog);
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      const issues = error.issues.length > 0 ? error.issues : [{ path: '', message: error.message }];
      for (const issue of issues) {
        const where = issue.path === '' ? 'catalog' : `catalog.${issue.path}`;
        problems.push(`${where} ${describeValue(props.catalog, issue.path)}: ${issue.message}`);
      }
    }
  }
  if (catalog) {
    const synthetic = syntheticServices(catalog);
    if (synthetic.length > 0) {
      const what = synthetic.map(
        (name) =>
          `service "${name}" has metrics.source "synthetic": its releases would be judged on made-up traffic and it gets no error-rate or p99 rollback alarms`,
      );
      const marks = synthetic.map((name) => `services.${name}.sandbox: true`);
      problems.push(
        `${what.join('; ')}. Set metrics.source to "cloudwatch" in the catalog, or, for a sandbox nobody depends on, say so with ${marks.join(', ')}`,
      );
    }
  }
  if (props.network !== undefined) problems.push(...networkProblems(props.network));
  problems.push(
    ...codeSourceProblems(props.code ?? functionCodeSource(), [
      ...TASK_KEYS.map((k) => TASKS[k].entry),
      ANSWER_ENTRY,
    ]).map((p) => `code: ${p}`),
  );
  if (problems.length > 0) {
    const fix =
      props.catalog !== undefined && problems.some((p) => p.startsWith('catalog'))
        ? ' Fix the catalog fields named (the catalog you pass as props.catalog, e.g. your tps.config.ts).'
        : '';
    throw new Error(
      `ReleaseRunbook "${id}": ${problems.length} problem${problems.length === 1 ? '' : 's'} in the props; nothing was built:\n${problems.map((p) => `  - ${p}`).join('\n')}\n${fix}`.trimEnd(),
    );
  }
  return catalog!;
}

/** `is "value"` / `is missing` for a dotted path of the input (the value the field had). */
function describeValue(input: unknown, path: string): string {
  if (path === '') return '';
  let node: unknown = input;
  for (const part of path.split('.')) {
    if (node === null || typeof node !== 'object') return '';
    node = (node as Record<string, unknown>)[part];
  }
  if (node === undefined) return 'is missing';
  const text = JSON.stringify(node);
  return `is ${text.length > 80 ? `${text.slice(0, 77)}...` : text}`;
}

/**
 * The start every snapshot id of a service has (`tps-<service>-`), as functions/release/migration.ts
 * builds them; a long service name keeps the first 54 characters that id truncation keeps.
 */
function snapshotPrefix(service: string): string {
  const id = snapshotIdFor(service, 'x');
  return id.length < 63 ? id.slice(0, -1) : id.slice(0, 54);
}
