/**
 * `tps-deploy doctor` against a healthy environment, then with each prerequisite broken in turn:
 * exactly that check FAILs, with its fix, and every other check still PASSes (or SKIPs where it
 * needs what is broken). The Kubernetes side is the local control plane (real API server and RBAC:
 * the shipped Roles applied by the admin, a replica-ratio and an ALB service, an IngressClass of
 * the AWS Load Balancer Controller; the doctor reads as the admin through `--kubeconfig`). AWS is
 * mocked with aws-sdk-client-mock, answers shaped as the API references show them: STS
 * GetCallerIdentity, CloudFormation DescribeStacks, EKS DescribeCluster and DescribeAccessEntry,
 * CloudWatch DescribeAlarms and GetMetricData.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import {
  CloudWatchClient,
  CloudWatchServiceException,
  DescribeAlarmsCommand,
  type DescribeAlarmsCommandInput,
  GetMetricDataCommand,
  type GetMetricDataCommandInput,
} from '@aws-sdk/client-cloudwatch';
import {
  type Cluster,
  DescribeAccessEntryCommand,
  type DescribeAccessEntryCommandInput,
  DescribeClusterCommand,
  EKSClient,
  EKSServiceException,
} from '@aws-sdk/client-eks';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { afterAll, beforeAll, beforeEach, describe, expect, jest, test } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import { mockClient } from 'aws-sdk-client-mock';
import { applyRoleCommand } from '../../cli/doctor/kube.js';
import { CHECKS, type CheckId, type CheckResult } from '../../cli/doctor/ports.js';
import { run } from '../../cli/main.js';
import { RUNBOOK_OUTPUT_KEY, type RunbookOutput } from '../../functions/contract/runbook-output.js';
import { type CatalogInput, parseCatalog } from '../../functions/domain/config.js';
import { kubernetesGroup } from '../../infra/names.js';
import { applyRestrictedRole } from '../../local/cluster/restricted-role.js';
import { adminKubeConfig, clusterEnv, eventually, TEST_APP_NAME } from '../helpers/cluster-env.js';
import {
  adminApis,
  createApp,
  deleteNamespace,
  namespaceWithShippedRole,
  ROLE_MANIFEST,
} from '../helpers/k8s.js';
import { Collect } from '../unit/cli-harness.js';

jest.setTimeout(300_000);

const APP = TEST_APP_NAME;
const STACK = 'tps-test-doctor';
const REGION = 'us-east-1';
const ACCOUNT = '123456789012';
const CLUSTER = 'prod-eks';
const NOW = new Date('2026-11-20T10:30:00.000Z'); // a Friday
const READ_ROLE = `arn:aws:iam::${ACCOUNT}:role/${APP}-CheckGatesRole`;
const WRITE_ROLE = `arn:aws:iam::${ACCOUNT}:role/${APP}-ShiftTrafficRole`;
const GROUPS: Record<string, string[]> = {
  [READ_ROLE]: [kubernetesGroup(APP, 'read')],
  [WRITE_ROLE]: [kubernetesGroup(APP, 'write')],
};
const INGRESS_CLASS = `doctor-alb-${process.pid}`;

const sts = mockClient(STSClient);
const cfn = mockClient(CloudFormationClient);
const eks = mockClient(EKSClient);
const cloudwatch = mockClient(CloudWatchClient);

let ns: string;
let dir: string;
let configFile: string;

const cloudWatchMetrics = (service: string) => ({
  source: 'cloudwatch' as const,
  namespace: 'Shop',
  requests: 'Requests',
  errors: 'Errors',
  latency: 'Latency',
  dimensions: { Service: service },
  versionDimension: 'Version',
});
const ALWAYS: NonNullable<CatalogInput['services'][string]['onCall']> = {
  schedule: [
    { who: 'sam', days: ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'], start: '00:00', end: '24:00' },
  ],
};

function catalog(): CatalogInput {
  return {
    appName: APP,
    services: {
      api: {
        cluster: { name: CLUSTER, region: REGION },
        namespace: ns,
        deployment: 'api',
        containers: ['api', 'sidecar'],
        router: { type: 'replica-ratio', service: 'api' },
        slo: { p99Ms: 300 },
        metrics: cloudWatchMetrics('api'),
        onCall: ALWAYS,
        approval: false,
      },
      web: {
        cluster: { name: CLUSTER, region: REGION },
        namespace: ns,
        deployment: 'web',
        containers: ['api'],
        router: {
          type: 'alb',
          ingress: 'web',
          actionName: 'web-action',
          stableService: 'web',
          servicePort: 80,
        },
        slo: { p99Ms: 800 },
        metrics: cloudWatchMetrics('web'),
        onCall: ALWAYS,
        approval: false,
      },
    },
  };
}

/** The output's value as the ReleaseRunbook construct writes it (functions/contract/runbook-output.ts). */
function runbook(cat: CatalogInput = catalog()): RunbookOutput {
  return {
    schema: 1,
    appName: APP,
    region: REGION,
    tableName: `${APP}-deployments`,
    topicArn: `arn:aws:sns:${REGION}:${ACCOUNT}:${APP}-notifications`,
    answerUrl: 'https://abcdefghij.lambda-url.us-east-1.on.aws/',
    stateMachines: {
      api: `arn:aws:states:${REGION}:${ACCOUNT}:stateMachine:${APP}-api`,
      web: `arn:aws:states:${REGION}:${ACCOUNT}:stateMachine:${APP}-web`,
    },
    dashboards: { api: `${APP}-api`, web: `${APP}-web` },
    clusterAccess: [
      { task: 'checkGates', roleArn: READ_ROLE, kubernetesGroups: GROUPS[READ_ROLE]! },
      { task: 'shiftTraffic', roleArn: WRITE_ROLE, kubernetesGroups: GROUPS[WRITE_ROLE]! },
    ],
    network: { endpointAccess: 'public', securityGroupIds: [], subnetIds: [] },
    catalog: JSON.parse(JSON.stringify(parseCatalog(cat))) as Record<string, unknown>,
  };
}

// ---- the healthy AWS answers ---------------------------------------------------------------------------

function stackWith(outputs: { OutputKey: string; OutputValue: string }[]) {
  return {
    Stacks: [
      {
        StackId: `arn:aws:cloudformation:${REGION}:${ACCOUNT}:stack/${STACK}/0f1e2d3c-aaaa-bbbb-cccc-0123456789ab`,
        StackName: STACK,
        CreationTime: new Date('2026-11-01T09:00:00.000Z'),
        StackStatus: 'UPDATE_COMPLETE' as const,
        Outputs: outputs,
      },
    ],
  };
}

function clusterAnswer(
  over: Partial<Cluster> = {},
  vpc: Partial<NonNullable<Cluster['resourcesVpcConfig']>> = {},
) {
  return {
    cluster: {
      name: CLUSTER,
      arn: `arn:aws:eks:${REGION}:${ACCOUNT}:cluster/${CLUSTER}`,
      version: '1.34',
      endpoint: 'https://0123456789ABCDEF0123456789ABCDEF.gr7.us-east-1.eks.amazonaws.com',
      status: 'ACTIVE' as const,
      certificateAuthority: { data: 'LS0tLS1CRUdJTi...' },
      resourcesVpcConfig: {
        subnetIds: ['subnet-0a1b2c3d', 'subnet-4e5f6a7b'],
        securityGroupIds: [],
        clusterSecurityGroupId: 'sg-0123456789abcdef0',
        vpcId: 'vpc-0a1b2c3d4e5f',
        endpointPublicAccess: true,
        endpointPrivateAccess: false,
        publicAccessCidrs: ['0.0.0.0/0'],
        ...vpc,
      },
      accessConfig: { authenticationMode: 'API_AND_CONFIG_MAP' as const },
      ...over,
    },
  };
}

function accessEntry(input: DescribeAccessEntryCommandInput) {
  const groups = GROUPS[input.principalArn!];
  if (!groups) {
    throw new EKSServiceException({
      name: 'ResourceNotFoundException',
      $fault: 'client',
      $metadata: { httpStatusCode: 404 },
      message: `The specified access entry resource can't be found.`,
    });
  }
  return {
    accessEntry: {
      clusterName: input.clusterName,
      principalArn: input.principalArn,
      kubernetesGroups: groups,
      accessEntryArn: `arn:aws:eks:${REGION}:${ACCOUNT}:access-entry/${CLUSTER}/role/${ACCOUNT}/x/0`,
      createdAt: new Date('2026-11-01T09:00:00.000Z'),
      modifiedAt: new Date('2026-11-01T09:00:00.000Z'),
      username: `arn:aws:sts::${ACCOUNT}:assumed-role/x/{{SessionName}}`,
      type: 'STANDARD',
    },
  };
}

function alarms(state: (name: string) => 'OK' | 'ALARM' | null) {
  return (input: DescribeAlarmsCommandInput) => ({
    MetricAlarms: (input.AlarmNames ?? []).flatMap((name) => {
      const s = state(name);
      return s
        ? [
            {
              AlarmName: name,
              AlarmArn: `arn:aws:cloudwatch:${REGION}:${ACCOUNT}:alarm:${name}`,
              StateValue: s,
              StateReason: s === 'ALARM' ? 'Threshold Crossed: 2 datapoints [3.1, 2.7] > 1.0' : 'OK',
              StateUpdatedTimestamp: new Date('2026-11-20T10:00:00.000Z'),
            },
          ]
        : [];
    }),
  });
}

/** GetMetricData: each query of the service's own metrics has data, unless `quiet(service)`. */
function metrics(quiet: (service: string) => boolean) {
  return (input: GetMetricDataCommandInput) => ({
    MetricDataResults: (input.MetricDataQueries ?? []).map((q) => {
      const dims = q.MetricStat?.Metric?.Dimensions ?? [];
      const service = dims.find((d) => d.Name === 'Service')?.Value;
      const own = q.MetricStat?.Metric?.Namespace === 'Shop';
      const values =
        !own || (service && quiet(service)) ? [] : q.Id!.endsWith('_errors') ? [0, 1] : [120, 130];
      return {
        Id: q.Id,
        Label: q.Label,
        StatusCode: 'Complete' as const,
        Timestamps: values.map((_, i) => new Date(NOW.getTime() - (i + 1) * 60_000)),
        Values: values,
      };
    }),
    Messages: [],
  });
}

/** An AccessDenied answer (CloudWatch's query protocol error, as the SDK raises it). */
function accessDenied(action: string): Error {
  return new CloudWatchServiceException({
    name: 'AccessDenied',
    $fault: 'client',
    $metadata: { httpStatusCode: 403 },
    message: `User: arn:aws:sts::${ACCOUNT}:assumed-role/Platform/sam@example.com is not authorized to perform: ${action}`,
  });
}

function healthy(): void {
  for (const m of [sts, cfn, eks, cloudwatch]) m.reset();
  sts.on(GetCallerIdentityCommand).resolves({
    UserId: 'AROAEXAMPLE:sam@example.com',
    Account: ACCOUNT,
    Arn: `arn:aws:sts::${ACCOUNT}:assumed-role/Platform/sam@example.com`,
  });
  cfn
    .on(DescribeStacksCommand)
    .resolves(stackWith([{ OutputKey: RUNBOOK_OUTPUT_KEY, OutputValue: JSON.stringify(runbook()) }]));
  eks.on(DescribeClusterCommand).resolves(clusterAnswer());
  eks.on(DescribeAccessEntryCommand).callsFake(accessEntry);
  cloudwatch.on(DescribeAlarmsCommand).callsFake(alarms(() => 'OK'));
  cloudwatch.on(GetMetricDataCommand).callsFake(metrics(() => false));
}

// ---- the cluster ---------------------------------------------------------------------------

const rbac = () => adminKubeConfig().makeApiClient(k8s.RbacAuthorizationV1Api);
const authz = () => adminKubeConfig().makeApiClient(k8s.AuthorizationV1Api);

/** Whether RBAC (its informer cache, which a delete reaches a moment later) lets the write group patch Deployments. */
async function writeGroupMayPatch(): Promise<boolean> {
  const r = await authz().createSubjectAccessReview({
    body: {
      spec: {
        groups: [kubernetesGroup(APP, 'write')],
        resourceAttributes: { namespace: ns, verb: 'patch', group: 'apps', resource: 'deployments' },
      },
    },
  });
  return r.status?.allowed === true;
}

async function createIngressClass(): Promise<void> {
  await adminApis().networking.createIngressClass({
    body: { metadata: { name: INGRESS_CLASS }, spec: { controller: 'ingress.k8s.aws/alb' } },
  });
}

async function createApiService(): Promise<void> {
  await adminApis().core.createNamespacedService({
    namespace: ns,
    body: {
      metadata: { name: 'api' },
      spec: { selector: { app: 'api' }, ports: [{ name: 'http', port: 80, targetPort: 'http' }] },
    },
  });
}

async function setApiSelector(app: string): Promise<void> {
  await adminApis().core.patchNamespacedService(
    { name: 'api', namespace: ns, body: { spec: { selector: { app } } } },
    k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
  );
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'doctor-'));
  ns = await namespaceWithShippedRole('doctor');
  await Promise.all([
    createApp(ns, 'api', { replicas: 2 }),
    createApp(ns, 'web', { replicas: 2, ingress: true }),
  ]);
  await createIngressClass();
  await adminApis().networking.patchNamespacedIngress(
    { name: 'web', namespace: ns, body: { spec: { ingressClassName: INGRESS_CLASS } } },
    k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
  );
  configFile = join(dir, 'tps.config.mjs');
  await writeFile(configFile, `export default ${JSON.stringify(catalog())};\n`);
});

afterAll(async () => {
  await adminApis()
    .networking.deleteIngressClass({ name: INGRESS_CLASS })
    .catch(() => undefined);
  if (ns) await deleteNamespace(ns);
  await rm(dir, { recursive: true, force: true });
});

beforeEach(healthy);

interface DoctorRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  readonly checks: CheckResult[];
}

async function doctor(extra: string[] = [], json = true): Promise<DoctorRun> {
  const stdout = new Collect();
  const stderr = new Collect();
  const credentials = { accessKeyId: 'AKIAEXAMPLE', secretAccessKey: 'secret' };
  const code = await run(
    [
      '--stack',
      STACK,
      'doctor',
      '--kubeconfig',
      clusterEnv().kubeconfig,
      ...(json ? ['--json'] : []),
      ...extra,
    ],
    {
      stdout,
      stderr,
      env: { USER: 'tester', AWS_REGION: REGION },
      cwd: dir,
      now: () => NOW,
      clients: {
        sts: new STSClient({ region: REGION, credentials }),
        cloudformation: new CloudFormationClient({ region: REGION, credentials }),
        eks: new EKSClient({ region: REGION, credentials }),
        cloudwatch: new CloudWatchClient({ region: REGION, credentials }),
      },
    },
  );
  const checks =
    json && stdout.text ? ((JSON.parse(stdout.text) as { checks: CheckResult[] }).checks ?? []) : [];
  return { code, stdout: stdout.text, stderr: stderr.text, checks };
}

const key = (r: CheckResult) => `${r.check}${r.subject ? ` ${r.subject}` : ''}`;

describe('a healthy environment', () => {
  test('every check passes, one line each, exit 0', async () => {
    const r = await doctor();
    expect(r.stderr).toBe('');
    expect(r.checks.filter((c) => c.status !== 'PASS')).toEqual([]);
    expect(r.checks.map(key)).toEqual([
      'credentials',
      `stack ${STACK}`,
      `endpoint ${CLUSTER}`,
      `access-entries ${CLUSTER}`,
      `kubernetes-role ${CLUSTER}/${ns}`,
      'workload api',
      'workload web',
      'router api',
      'router web',
      'metrics api',
      'metrics web',
      'alarms api',
      'alarms web',
      'on-call api',
      'on-call web',
    ]);
    expect(r.code).toBe(0);
    const text = await doctor([], false);
    expect(text.code).toBe(0);
    const lines = text.stdout.trim().split('\n');
    expect(lines).toHaveLength(16);
    for (const l of lines.slice(0, 15)) expect(l).toMatch(/^PASS [a-z-]+( \S+)?: \S/);
    expect(lines[15]).toBe('15 checks: 15 passed, 0 failed, 0 skipped');
    expect(text.stdout).toContain(
      `PASS kubernetes-role ${CLUSTER}/${ns}: tps-deploy-${APP}-read (7 permissions), tps-deploy-${APP}-write (`,
    );
  });

  test('--service narrows the per-service checks to that service', async () => {
    const r = await doctor(['--service', 'web']);
    expect(r.code).toBe(0);
    expect(r.checks.filter((c) => c.subject === 'api')).toEqual([]);
    expect(r.checks.filter((c) => c.subject === 'web').map((c) => c.check)).toEqual([
      'workload',
      'router',
      'metrics',
      'alarms',
      'on-call',
    ]);
  });
});

interface Breakage {
  readonly name: string;
  /** The check that must FAIL, and its only subject that fails (null: the check has none). */
  readonly fails: CheckId;
  readonly subject: string | null | (() => string);
  readonly detail: RegExp | (() => RegExp);
  readonly fix: RegExp | (() => RegExp);
  /** Checks that need what is broken and say so with SKIP (key: check and subject). */
  readonly skipped?: readonly string[];
  readonly extra?: () => string[];
  readonly breakIt: () => Promise<void> | void;
  readonly restore?: () => Promise<void>;
}

const re = (s: string) => new RegExp(s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));

const BREAKAGES: readonly Breakage[] = [
  {
    name: 'no AWS credentials',
    fails: CHECKS.credentials,
    subject: null,
    detail: /STS GetCallerIdentity failed: CredentialsProviderError: Could not load credentials/,
    fix: /aws sso login --profile <profile>.*aws sts get-caller-identity/,
    breakIt: () => {
      sts.on(GetCallerIdentityCommand).rejects(
        Object.assign(new Error('Could not load credentials from any providers'), {
          name: 'CredentialsProviderError',
        }),
      );
    },
  },
  {
    name: 'a stack without the TpsDeployRunbook output (the catalog from --config)',
    fails: CHECKS.stack,
    subject: STACK,
    detail: /has no output TpsDeployRunbook \(it has AnswerUrl\): is this a tps-deploy stack\?/,
    fix: re(`npx cdk deploy ${STACK}`),
    skipped: [`endpoint ${CLUSTER}`, `access-entries ${CLUSTER}`, 'kubernetes-role'],
    extra: () => ['--config', configFile],
    breakIt: () => {
      cfn
        .on(DescribeStacksCommand)
        .resolves(
          stackWith([{ OutputKey: 'AnswerUrl', OutputValue: 'https://x.lambda-url.us-east-1.on.aws/' }]),
        );
    },
  },
  {
    name: 'a private-only endpoint while the functions run outside a VPC',
    fails: CHECKS.endpoint,
    subject: CLUSTER,
    detail:
      /public off, private on; .*outside any VPC: functions outside a VPC cannot reach a private-only endpoint/,
    fix: /network \{ endpointAccess: 'private', vpc: vpc-0a1b2c3d4e5f \}.*aws eks update-cluster-config --name prod-eks --region us-east-1 --resources-vpc-config endpointPublicAccess=true,publicAccessCidrs=0\.0\.0\.0\/0/,
    breakIt: () => {
      eks
        .on(DescribeClusterCommand)
        .resolves(clusterAnswer({}, { endpointPublicAccess: false, endpointPrivateAccess: true }));
    },
  },
  {
    name: 'a public endpoint limited to CIDRs while the functions are in no VPC',
    fails: CHECKS.endpoint,
    subject: CLUSTER,
    detail: /limited to 203\.0\.113\.0\/24 refuses it/,
    fix: /network \{ endpointAccess: 'public', vpc: vpc-0a1b2c3d4e5f \}/,
    breakIt: () => {
      eks.on(DescribeClusterCommand).resolves(clusterAnswer({}, { publicAccessCidrs: ['203.0.113.0/24'] }));
    },
  },
  {
    name: 'a cluster that is not ACTIVE',
    fails: CHECKS.endpoint,
    subject: CLUSTER,
    detail: /cluster prod-eks is UPDATING, not ACTIVE/,
    fix: /aws eks describe-cluster --name prod-eks --region us-east-1 --query cluster\.status/,
    breakIt: () => {
      eks.on(DescribeClusterCommand).resolves(clusterAnswer({ status: 'UPDATING' }));
    },
  },
  {
    name: 'no access entry for the write role',
    fails: CHECKS.accessEntries,
    subject: CLUSTER,
    detail: re(`no access entry for ${WRITE_ROLE} (task shiftTraffic)`),
    fix: re(
      `aws eks create-access-entry --cluster-name ${CLUSTER} --region ${REGION} --principal-arn ${WRITE_ROLE} --kubernetes-groups tps-deploy-${APP}-write`,
    ),
    breakIt: () => {
      eks
        .on(DescribeAccessEntryCommand)
        .callsFake((input: DescribeAccessEntryCommandInput) =>
          accessEntry(input.principalArn === WRITE_ROLE ? { ...input, principalArn: 'none' } : input),
        );
    },
  },
  {
    name: 'the write RoleBinding deleted from the namespace',
    fails: CHECKS.role,
    subject: () => `${CLUSTER}/${ns}`,
    detail: () => re(`group tps-deploy-${APP}-write may not get deployments.apps in namespace ${ns}`),
    fix: () => re(applyRoleCommand(APP, ns)),
    breakIt: async () => {
      await rbac().deleteNamespacedRoleBinding({ name: 'tps-deploy-write', namespace: ns });
      await eventually('RBAC without the binding', async () => !(await writeGroupMayPatch()));
    },
    restore: async () => {
      await applyRestrictedRole(clusterEnv().kubeconfig, ns, ROLE_MANIFEST, APP);
      await eventually('RBAC with the binding', writeGroupMayPatch);
    },
  },
  {
    name: "the replica-ratio service's Service deleted",
    fails: CHECKS.workload,
    subject: 'api',
    detail: () => re(`no Service ${ns}/api (services.api.router.service)`),
    fix: () => re(`kubectl -n ${ns} expose deployment api --name api --port <port>`),
    skipped: ['router api'],
    breakIt: async () => {
      await adminApis().core.deleteNamespacedService({ name: 'api', namespace: ns });
    },
    restore: createApiService,
  },
  {
    name: "a stable Service that does not select the Deployment's pods",
    fails: CHECKS.router,
    subject: 'api',
    detail: () =>
      re(`Service ${ns}/api selects app=other, but the pods of Deployment ${ns}/api are labelled`),
    fix: () => re(`kubectl -n ${ns} patch service api --type merge -p '{"spec":{"selector":{"app":"api"}}}'`),
    breakIt: () => setApiSelector('other'),
    restore: () => setApiSelector('api'),
  },
  {
    name: "the ALB service's IngressClass deleted",
    fails: CHECKS.router,
    subject: 'web',
    detail: () => re(`Ingress ${ns}/web names IngressClass ${INGRESS_CLASS}, which does not exist`),
    fix: /install the AWS Load Balancer Controller .*"controller":"ingress\.k8s\.aws\/alb"/,
    breakIt: async () => {
      await adminApis().networking.deleteIngressClass({ name: INGRESS_CLASS });
    },
    restore: createIngressClass,
  },
  {
    name: 'no metrics of the running version',
    fails: CHECKS.metrics,
    subject: 'api',
    detail: /Shop\/Requests\{Service=api,Version=v1\}: no requests from version v1 over the last 900 s/,
    fix: /publish Requests, Errors and Latency to namespace Shop with dimensions Service=api,Version=v1/,
    breakIt: () => {
      cloudwatch.on(GetMetricDataCommand).callsFake(metrics((s) => s === 'api'));
    },
  },
  {
    name: 'an alarm in ALARM',
    fails: CHECKS.alarms,
    subject: 'api',
    detail: re(`in ALARM: ${APP}-api-errorRate (Threshold Crossed`),
    fix: re(`aws cloudwatch describe-alarms --alarm-names ${APP}-api-errorRate --region ${REGION}`),
    breakIt: () => {
      cloudwatch
        .on(DescribeAlarmsCommand)
        .callsFake(alarms((n) => (n === `${APP}-api-errorRate` ? 'ALARM' : 'OK')));
    },
  },
  {
    name: 'alarms that were never deployed',
    fails: CHECKS.alarms,
    subject: 'web',
    detail: re(`alarms not found: ${APP}-web-errorRate`),
    fix: re(`npx cdk deploy ${STACK}`),
    breakIt: () => {
      cloudwatch
        .on(DescribeAlarmsCommand)
        .callsFake(alarms((n) => (n.startsWith(`${APP}-web-`) ? null : 'OK')));
    },
  },
  {
    name: 'no permission to read the metrics (GetMetricData AccessDenied)',
    fails: CHECKS.metrics,
    subject: 'web',
    detail:
      /measurement errors: GetMetricData failed: AccessDenied: .*not authorized to perform: cloudwatch:GetMetricData/,
    fix: /cloudwatch:GetMetricData/,
    breakIt: () => {
      cloudwatch.on(GetMetricDataCommand).callsFake((input: GetMetricDataCommandInput) => {
        const web = input.MetricDataQueries?.some((q) =>
          q.MetricStat?.Metric?.Dimensions?.some((d) => d.Name === 'Service' && d.Value === 'web'),
        );
        if (web) throw accessDenied('cloudwatch:GetMetricData');
        return metrics(() => false)(input);
      });
    },
  },
  {
    name: 'no permission to read the alarms (DescribeAlarms AccessDenied)',
    fails: CHECKS.alarms,
    subject: 'api',
    detail: /CloudWatch DescribeAlarms failed: AccessDenied/,
    fix: re(
      `check that you may call cloudwatch:DescribeAlarms: aws cloudwatch describe-alarms --alarm-names ${APP}-api-errorRate`,
    ),
    breakIt: () => {
      cloudwatch.on(DescribeAlarmsCommand).callsFake((input: DescribeAlarmsCommandInput) => {
        if (input.AlarmNames?.some((n) => n.startsWith(`${APP}-api-`)))
          throw accessDenied('cloudwatch:DescribeAlarms');
        return alarms(() => 'OK')(input);
      });
    },
  },
  {
    name: 'no on-call source',
    fails: CHECKS.onCall,
    subject: 'api',
    detail: /no on-call source \(services\.api\.onCall\)/,
    fix: re(`add services.api.onCall to the catalog: a weekly schedule`),
    breakIt: () => {
      const c = catalog();
      const { onCall: _none, ...api } = c.services.api!;
      const without = { ...c, services: { ...c.services, api } };
      cfn
        .on(DescribeStacksCommand)
        .resolves(
          stackWith([{ OutputKey: RUNBOOK_OUTPUT_KEY, OutputValue: JSON.stringify(runbook(without)) }]),
        );
    },
  },
  {
    name: 'nobody on call now',
    fails: CHECKS.onCall,
    subject: 'web',
    detail: /nobody is on call now \(fri 10:30 UTC\)/,
    fix: /add a shift covering fri 10:30 UTC to services\.web\.onCall\.schedule/,
    breakIt: () => {
      const c = catalog();
      const web = {
        ...c.services.web!,
        onCall: { schedule: [{ who: 'kim', days: ['mon' as const], start: '09:00', end: '17:00' }] },
      };
      const mondays = { ...c, services: { ...c.services, web } };
      cfn
        .on(DescribeStacksCommand)
        .resolves(
          stackWith([{ OutputKey: RUNBOOK_OUTPUT_KEY, OutputValue: JSON.stringify(runbook(mondays)) }]),
        );
    },
  },
];

const value = <T>(v: T | (() => T)): T => (typeof v === 'function' ? (v as () => T)() : v);

describe('each prerequisite broken in turn: exactly that check fails, with its fix', () => {
  test.each(BREAKAGES.map((b) => [b.name, b] as const))('%s', async (_name, b) => {
    await b.breakIt();
    try {
      const r = await doctor(b.extra?.() ?? []);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(1);
      const subject = value(b.subject);
      const failed = r.checks.filter((c) => c.status === 'FAIL');
      expect(failed.map(key)).toEqual([subject ? `${b.fails} ${subject}` : b.fails]);
      expect(failed[0]!.detail).toMatch(value(b.detail));
      expect(failed[0]!.fix).toMatch(value(b.fix));
      const skipped = r.checks.filter((c) => c.status === 'SKIP').map(key);
      expect(skipped).toEqual(
        (b.skipped ?? []).map((s) => (s === 'kubernetes-role' ? `${s} ${CLUSTER}/${ns}` : s)),
      );
      expect(r.checks.length).toBe(15);
    } finally {
      await b.restore?.();
    }
  });

  test('text output: the FAIL line, then its fix', async () => {
    eks.on(DescribeClusterCommand).resolves(clusterAnswer({ status: 'FAILED' }));
    const r = await doctor([], false);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(
      /\nFAIL endpoint prod-eks: cluster prod-eks is FAILED, not ACTIVE\n {5}fix: wait until it is ACTIVE/,
    );
    expect(r.stdout).toContain('15 checks: 14 passed, 1 failed, 0 skipped');
  });
});
