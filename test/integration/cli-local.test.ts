/**
 * The CLI against the local control plane: `local` for a healthy, a crashing and a latency
 * regression release (the JSON record checked), and `abort` / `rollback` acting on real
 * Deployments through the same performRollback as the state machine.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CloudWatchClient,
  DescribeAlarmsCommand,
  ListTagsForResourceCommand,
  PutMetricAlarmCommand,
  PutMetricDataCommand,
  UntagResourceCommand,
} from '@aws-sdk/client-cloudwatch';
import { SFNClient, StopExecutionCommand } from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { SFNClient as RealSfn } from '@aws-sdk/client-sfn';
import { run } from '../../cli/main.js';
import { createTableIfMissing } from '../../functions/adapters/aws/dynamodb-store.js';
import { discardLines } from '../../functions/adapters/powertools/output.js';
import type { RecordJson } from '../../functions/domain/record-json.js';
import { RELEASE_METRICS } from '../../functions/domain/release-metrics.js';
import { LocalEnvironment } from '../../local/environment.js';
import { adminKubeConfig, clusterEnv, deleteNamespace, eventually } from '../helpers/cluster-env.js';
import { type LocalDynamo, startDynalite } from '../helpers/dynalite.js';
import {
  adminApis,
  createApp,
  functionIdentities,
  namespaceWithShippedRole,
  OLD_IMAGES,
} from '../helpers/k8s.js';
import { serviceFor } from '../helpers/release.js';
import { Collect } from '../unit/cli-harness.js';

const sfn = mockClient(SFNClient);
const cloudwatch = mockClient(CloudWatchClient);
const LATENCY_ALARM = 'tps-it-shop-latency';
const LATENCY_ALARM_ARN = `arn:aws:cloudwatch:us-east-1:123456789012:alarm:${LATENCY_ALARM}`;

/**
 * The shop's latency alarm as CloudWatch describes it while a release holds it at 3x its baseline
 * (DescribeAlarms / ListTagsForResource, CloudWatch API reference): threshold 660 ms, the marks
 * saying the configured threshold is 900 ms.
 */
function latencyAlarmArmed(): void {
  cloudwatch.reset();
  cloudwatch.on(DescribeAlarmsCommand).resolves({
    MetricAlarms: [
      {
        AlarmName: LATENCY_ALARM,
        AlarmArn: LATENCY_ALARM_ARN,
        MetricName: 'LatencyP99',
        Namespace: 'TpsIt',
        ExtendedStatistic: 'p99',
        Period: 60,
        EvaluationPeriods: 2,
        Threshold: 660,
        ComparisonOperator: 'GreaterThanThreshold',
      },
    ],
  });
  cloudwatch.on(ListTagsForResourceCommand).resolves({
    Tags: [
      { Key: 'tps-deploy:configured-threshold', Value: '900' },
      { Key: 'tps-deploy:applied-threshold', Value: '660' },
    ],
  });
  cloudwatch.on(PutMetricAlarmCommand).resolves({});
  cloudwatch.on(UntagResourceCommand).resolves({});
  cloudwatch.on(PutMetricDataCommand).resolves({});
}

/** The p99 alarm went back to its configured threshold, and the marks are gone. */
function expectLatencyAlarmRestored(): void {
  expect(cloudwatch).toHaveReceivedCommandWith(PutMetricAlarmCommand, {
    AlarmName: LATENCY_ALARM,
    Threshold: 900,
  });
  expect(cloudwatch).toHaveReceivedCommandWith(UntagResourceCommand, { ResourceARN: LATENCY_ALARM_ARN });
}
const ATTESTED = { attestations: { testsPassed: true, reviewers: ['alice', 'bob'] } };
const namespaces: string[] = [];

afterAll(async () => {
  await Promise.all(namespaces.map(deleteNamespace));
});

function uniqueNamespace(prefix: string): string {
  const ns = `${prefix}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 6)}`;
  namespaces.push(ns);
  return ns;
}

/** `local` writes its state file here, not at the default path another run may be using. */
const LOCAL_STATE = join(mkdtempSync(join(tmpdir(), 'tps-cli-local-')), 'state.json');

async function cli(argv: string[], io: Parameters<typeof run>[1] extends infer T ? Partial<T> : never = {}) {
  const stdout = new Collect();
  const stderr = new Collect();
  const env = { USER: 'tester', TPS_LOCAL_STATE: LOCAL_STATE };
  const code = await run(argv, { stdout, stderr, env, sleep: async () => {}, ...io });
  return { code, stdout: stdout.text, stderr: stderr.text };
}

/** `tps-deploy local` on the test cluster: admin sets up, each task acts as the app's read or write identity. */
async function local(scenario: string, namespace: string, extra: string[] = []) {
  const env = clusterEnv();
  const r = await cli([
    'local',
    '--scenario',
    scenario,
    '--kubeconfig',
    env.kubeconfig,
    '--namespace',
    namespace,
    '--change-ref',
    'CHG-7',
    '--json',
    ...extra,
  ]);
  return { ...r, json: r.stdout ? (JSON.parse(r.stdout) as RecordJson) : null };
}

async function liveImage(namespace: string, name: string, container: string): Promise<string | undefined> {
  const dep = await adminApis().apps.readNamespacedDeployment({ name, namespace });
  return dep.spec?.template.spec?.containers.find((c) => c.name === container)?.image;
}

describe('tps-deploy local', () => {
  it('healthy: deploys the demo service, promotes through every phase, exits 0', async () => {
    const ns = uniqueNamespace('cli-healthy');
    const r = await local('healthy', ns);
    expect(r.stderr).toContain(`deploying the demo service ${ns}/storefront`);
    expect(r.stderr).toMatch(/\[virtual \d\d:\d\d:\d\d\] Shift 10% To Canary/);
    expect(r.stderr).toMatch(/execution SUCCEEDED/);
    expect(r.code).toBe(0);
    const j = r.json!;
    expect(j.outcome).toBe('SUCCEEDED');
    expect(j.changeRef).toBe('CHG-7');
    expect(j.requestedBy).toBe('tester');
    expect(j.previousImage).toBe('registry.local/shop/storefront:v1.0.0');
    expect(j.image).toBe('registry.local/shop/storefront:v1.1.0');
    expect(j.finalImage).toBe('registry.local/shop/storefront:v1.1.0');
    expect(j.phases.map((p) => [p.name, p.weight, p.verdict])).toEqual([
      ['canary', 10, 'pass'],
      ['staging', 50, 'pass'],
      ['production', 100, 'pass'],
    ]);
    expect(j.rollback).toBeNull();
    expect(await liveImage(ns, 'storefront', 'storefront')).toBe('registry.local/shop/storefront:v1.1.0');
  });

  it('crash: the new pods crash-loop, the release is rolled back at canary, exits 3', async () => {
    const ns = uniqueNamespace('cli-crash');
    const r = await local('crash', ns);
    expect(r.code).toBe(3);
    const j = r.json!;
    expect(j.outcome).toBe('ROLLED_BACK');
    expect(j.image).toBe('registry.local/shop/storefront:v1.1.0-crash');
    expect(j.rollback?.phase).toBe('canary');
    expect(j.rollback?.trigger).toBe('state-machine');
    expect(j.rollback?.reason).toMatch(/CrashLoopBackOff|pods/i);
    expect(j.phases.map((p) => [p.name, p.verdict])).toEqual([['canary', 'fail']]);
    expect(j.previousImage).toBe('registry.local/shop/storefront:v1.0.0');
    expect(j.finalImage).toBe(j.previousImage);
    expect(await liveImage(ns, 'storefront', 'storefront')).toBe('registry.local/shop/storefront:v1.0.0');
  });

  it('latency-regression: the canary window fails on p99, rolled back at canary, exits 3', async () => {
    const ns = uniqueNamespace('cli-latency');
    const r = await local('latency-regression', ns);
    expect(r.code).toBe(3);
    const j = r.json!;
    expect(j.outcome).toBe('ROLLED_BACK');
    expect(j.rollback?.phase).toBe('canary');
    expect(j.phases[0]?.verdict).toBe('fail');
    expect(j.phases[0]?.metrics.p99Ms).toBeGreaterThan(800);
    expect(j.phases[0]?.decisions[0]).toMatch(/^fail: .*p99/);
    expect(j.finalImage).toBe('registry.local/shop/storefront:v1.0.0');
    expect(await liveImage(ns, 'storefront', 'storefront')).toBe('registry.local/shop/storefront:v1.0.0');
  });
});

describe('tps-deploy local --scenario watch-spike', () => {
  it('every window passes, then the error-rate alarm rolls the release back in the post-deployment watch, exits 3', async () => {
    const ns = uniqueNamespace('cli-watch-spike');
    const r = await local('watch-spike', ns);
    expect(r.code).toBe(3);
    const j = r.json!;
    expect(j.outcome).toBe('ROLLED_BACK');
    expect(j.phases.map((p) => [p.name, p.verdict])).toEqual([
      ['canary', 'pass'],
      ['staging', 'pass'],
      ['production', 'pass'],
    ]);
    expect(j.rollback?.trigger).toBe('alarm:tps-local-storefront-errorRate');
    expect(j.rollback?.phase).toBe('watch');
    expect(r.stderr).toMatch(
      /\[virtual \d\d:\d\d:\d\d\] alarm tps-local-storefront-errorRate: OK -> ALARM: Threshold Crossed: 2 out of the last 2 datapoints/,
    );
    expect(r.stderr).toMatch(/execution ABORTED/);
    expect(j.finalImage).toBe('registry.local/shop/storefront:v1.0.0');
    expect(await liveImage(ns, 'storefront', 'storefront')).toBe('registry.local/shop/storefront:v1.0.0');
  });
});

describe('tps-deploy local --hpa', () => {
  it('the demo service under a HorizontalPodAutoscaler that scales it during the release: promoted, stable never scaled by tps-deploy, the HPA in control after', async () => {
    const ns = uniqueNamespace('cli-hpa');
    const out = join(mkdtempSync(join(tmpdir(), 'tps-hpa-')), 'record.json');
    const r = await local('healthy', ns, ['--hpa', '--speed', '400', '--record-out', out]);
    const events = (JSON.parse(readFileSync(out, 'utf8')) as { events: { message: string }[] }).events;
    expect(r.stderr).toContain(
      `created HorizontalPodAutoscaler ${ns}/storefront (4-8 replicas, 100m CPU per pod)`,
    );
    expect(r.stderr).toMatch(/execution SUCCEEDED/);
    expect(r.code).toBe(0);
    const j = r.json!;
    expect(j.outcome).toBe('SUCCEEDED');
    const shifts = events.filter((e) => / requested; /.test(e.message)).map((e) => e.message);
    expect(shifts).toHaveLength(3);
    for (const m of shifts)
      expect(m).toMatch(
        /hpa\/storefront \(4-8\) scales deployment storefront \(live \d+\): stable not scaled/,
      );
    expect(events.filter((e) => /drift/.test(e.message)).map((e) => e.message)).toEqual([]);
    expect(await liveImage(ns, 'storefront', 'storefront')).toBe('registry.local/shop/storefront:v1.1.0');
    // The pods run above the HPA's target: it grew the service, and it still targets it.
    expect(r.stderr).toMatch(
      /==> hpa\/storefront targets deployment storefront: (\d+) replicas, it wants \d+/,
    );
    // The real HPA acts once metrics-server has scraped the pods twice: during the release when it
    // lasts long enough, else soon after; either way the count is its own, not tps-deploy's.
    await eventually(
      'the HPA to rescale the demo service',
      async () =>
        (await adminApis().core.listNamespacedEvent({ namespace: ns })).items.some(
          (e) => e.reason === 'SuccessfulRescale' && e.involvedObject.name === 'storefront',
        ) || undefined,
      { timeoutMs: 120_000, intervalMs: 1000 },
    );
  });
});

describe('abort and rollback on the local cluster', () => {
  let dynamo: LocalDynamo;
  beforeAll(async () => {
    dynamo = await startDynalite();
  });
  afterAll(async () => {
    await dynamo.stop();
  });
  beforeEach(() => {
    sfn.reset();
    sfn.on(StopExecutionCommand).resolves({ stopDate: new Date() });
    latencyAlarmArmed();
  });

  async function fixture(prefix: string) {
    // One table per test: each test sees only its own deployments.
    const table = `${prefix}-deployments`;
    await createTableIfMissing(dynamo.client, table);
    const ns = await namespaceWithShippedRole(prefix, 'tps-it');
    namespaces.push(ns);
    const app = await createApp(ns, 'shop', { replicas: 4 });
    const catalog = {
      appName: 'tps-it',
      services: {
        shop: serviceFor(app, 'replica-ratio', {
          approval: false,
          onCall: {
            schedule: [
              {
                who: 'it',
                days: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'],
                start: '00:00',
                end: '24:00',
              },
            ],
          },
        }),
      },
    };
    const env = await LocalEnvironment.start({
      catalog,
      kubeconfigs: await functionIdentities('tps-it'),
      kubeRetry: { baseDelayMs: 50, maxDelayMs: 500 },
      dynamo,
      tableName: table,
      functionOutput: discardLines,
    });
    const io = {
      catalog,
      clients: {
        dynamodb: dynamo.client,
        sfn: new RealSfn({ region: 'us-east-1', credentials: { accessKeyId: 'a', secretAccessKey: 'b' } }),
      },
    };
    const args = [
      '--table',
      table,
      '--kubeconfig',
      // The CLI's abort rolls back as the app's write identity (the shipped Role is bound to it).
      (await functionIdentities('tps-it')).write,
      '--requested-by',
      'oncall',
    ];
    return { ns, app, env, io, args };
  }

  it('rollback --service takes a released version back to the recorded previous one', async () => {
    const { ns, env, io, args } = await fixture('cli-rb');
    try {
      const released = await env.run(
        { ...ATTESTED, service: 'shop', image: 'registry.local/shop/api:v2' },
        { speed: 100_000 },
      );
      expect(released.record?.gates?.filter((g) => !g.passed)).toEqual([]);
      expect(released.record?.outcome).toBe('SUCCEEDED');
      expect(await liveImage(ns, 'shop', 'api')).toBe('registry.local/shop/api:v2');

      const r = await cli(['rollback', '--service', 'shop', '--reason', 'customer reports', ...args], io);
      expect(r.stderr).toContain(`rolling shop back from registry.local/shop/api:v2 to ${OLD_IMAGES.api}`);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain(
        `shop ${released.record!.deploymentId}: ROLLED_BACK; serving ${OLD_IMAGES.api}`,
      );
      expect(await liveImage(ns, 'shop', 'api')).toBe(OLD_IMAGES.api);
      const record = await env.store.get('shop', released.record!.deploymentId);
      expect(record?.rollback).toMatchObject({
        trigger: 'person:oncall',
        reason: 'rollback requested by oncall: customer reports',
      });
      expect(record?.finalImage).toBe(OLD_IMAGES.api);
      expect(sfn).not.toHaveReceivedCommand(StopExecutionCommand);
      expectLatencyAlarmRestored();
    } finally {
      await env.stop();
    }
  });

  it('abort stops a running release (StopExecution) and rolls the canary back', async () => {
    const { ns, env, io, args } = await fixture('cli-abort');
    // speed 1: the canary window really lasts 10 minutes, so the release is running when aborted.
    const running = env.run(
      { ...ATTESTED, service: 'shop', image: 'registry.local/shop/api:v3' },
      { speed: 1 },
    );
    let executionArn = '';
    try {
      const deploymentId = await eventually(
        'the canary to be ready',
        async () => {
          const [rec] = await env.store.history('shop', 1);
          executionArn = rec?.executionArn ?? '';
          return rec?.phases[0]?.pods?.ready === 1 ? rec.deploymentId : undefined;
        },
        { timeoutMs: 60_000 },
      );
      const canary = await adminApis().apps.readNamespacedDeployment({
        name: 'shop-tps-canary',
        namespace: ns,
      });
      expect(canary.spec?.replicas).toBeGreaterThan(0);

      const r = await cli(['abort', deploymentId, '--reason', 'wrong build', ...args], io);
      expect(r.code).toBe(0);
      const record = await env.store.get('shop', deploymentId);
      expect(sfn).toHaveReceivedCommandWith(StopExecutionCommand, {
        executionArn: record!.executionArn!,
        cause: 'aborted by oncall: wrong build',
      });
      expect(record?.outcome).toBe('ROLLED_BACK');
      expect(record?.rollback).toMatchObject({ trigger: 'person:oncall', phase: 'canary' });
      const deployments = await adminApis().apps.listNamespacedDeployment({ namespace: ns });
      expect(deployments.items.map((d) => d.metadata?.name)).toEqual(['shop']);
      const shop = deployments.items[0]!;
      expect(shop.spec?.replicas).toBe(4);
      expect(shop.spec?.template.spec?.containers.find((c) => c.name === 'api')?.image).toBe(OLD_IMAGES.api);
      expect(await env.store.active('shop')).toBeNull();
      expectLatencyAlarmRestored();
      // A person's rollback counts in the release metrics (PutMetricData: the CLI's stdout is theirs).
      expect(cloudwatch).toHaveReceivedCommandWith(PutMetricDataCommand, {
        Namespace: RELEASE_METRICS.namespace,
        MetricData: expect.arrayContaining([
          expect.objectContaining({
            MetricName: RELEASE_METRICS.names.rolledBack,
            Value: 1,
            Dimensions: [
              { Name: 'service', Value: 'shop' },
              { Name: 'phase', Value: 'canary' },
              { Name: 'trigger', Value: 'person' },
            ],
          }),
        ]),
      });
    } finally {
      // Step Functions would stop the execution; the local executor is stopped here.
      for (const ex of env.executors.values()) ex.stop(executionArn);
      const ended = await running;
      expect(ended.status).toBe('ABORTED');
      await env.stop();
    }
  });
});

describe('tps-deploy cluster status', () => {
  it('reports the test cluster up', async () => {
    const r = await cli(['cluster', 'status', '--name', clusterEnv().clusterName]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`cluster ${clusterEnv().clusterName}: up`));
    expect(r.stdout).toContain(adminKubeConfig().getCurrentCluster()!.server);
  });
});
