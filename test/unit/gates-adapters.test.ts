/**
 * The adapters behind the gates, holds and migrations: CloudWatch DescribeAlarms, RDS snapshots and
 * Step Functions task tokens with aws-sdk-client-mock (response shapes from the AWS API
 * references), the on-call endpoint against a real HTTP server on 127.0.0.1, and the Job status
 * mapping of the Kubernetes Job runner.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CloudWatchClient, DescribeAlarmsCommand } from '@aws-sdk/client-cloudwatch';
import {
  CreateDBClusterSnapshotCommand,
  CreateDBSnapshotCommand,
  DBClusterNotFoundFault,
  DBSnapshotAlreadyExistsFault,
  DBSnapshotNotFoundFault,
  DescribeDBClusterSnapshotsCommand,
  DescribeDBSnapshotsCommand,
  RDSClient,
} from '@aws-sdk/client-rds';
import {
  InvalidToken,
  SendTaskFailureCommand,
  SendTaskSuccessCommand,
  SFNClient,
  TaskTimedOut,
} from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { CloudWatchAlarmStates } from '../../functions/adapters/aws/alarm-states.js';
import { RdsDatabaseSnapshots, snapshotStatusOf } from '../../functions/adapters/aws/rds-snapshots.js';
import { SfnTaskTokens } from '../../functions/adapters/aws/task-tokens.js';
import { HttpOnCallDirectory, namesOf } from '../../functions/adapters/http-oncall.js';
import {
  jobLabels,
  jobManifest,
  jobPodLabels,
  jobStatusOf,
} from '../../functions/adapters/kubernetes/jobs.js';
import { ERROR_NAMES } from '../../functions/domain/errors.js';
import { JOB_POD } from '../helpers/catalogs.js';

const throttled = () =>
  Object.assign(new Error('Rate exceeded'), {
    name: 'ThrottlingException',
    $metadata: { httpStatusCode: 400 },
  });

describe('CloudWatchAlarmStates (DescribeAlarms)', () => {
  const cw = mockClient(CloudWatchClient);
  beforeEach(() => cw.reset());

  test('one reading per name asked: found alarms with their state, the rest MISSING; paginated', async () => {
    // DescribeAlarms response: MetricAlarms[] / CompositeAlarms[] with AlarmName, StateValue,
    // StateReason, StateUpdatedTimestamp; NextToken when there is more.
    cw.on(DescribeAlarmsCommand, { NextToken: undefined })
      .resolves({
        MetricAlarms: [
          {
            AlarmName: 'tps-deploy-api-errorRate',
            StateValue: 'ALARM',
            StateReason:
              'Threshold Crossed: 2 out of the last 2 datapoints were greater than the threshold (0.01).',
            StateUpdatedTimestamp: new Date('2026-11-18T10:00:00Z'),
          },
        ],
        NextToken: 'page-2',
      })
      .on(DescribeAlarmsCommand, { NextToken: 'page-2' })
      .resolves({
        MetricAlarms: [{ AlarmName: 'tps-deploy-api-latency', StateValue: 'OK', StateReason: 'fine' }],
        CompositeAlarms: [{ AlarmName: 'tps-deploy-api-composite', StateValue: 'INSUFFICIENT_DATA' }],
      });
    const states = new CloudWatchAlarmStates({ client: cw as unknown as CloudWatchClient });
    const out = await states.read([
      'tps-deploy-api-latency',
      'tps-deploy-api-errorRate',
      'tps-deploy-api-oomKills',
      'tps-deploy-api-composite',
    ]);
    expect(out).toEqual([
      { name: 'tps-deploy-api-latency', state: 'OK', reason: 'fine', since: null },
      {
        name: 'tps-deploy-api-errorRate',
        state: 'ALARM',
        reason: expect.stringContaining('Threshold Crossed'),
        since: '2026-11-18T10:00:00.000Z',
      },
      { name: 'tps-deploy-api-oomKills', state: 'MISSING', reason: null, since: null },
      { name: 'tps-deploy-api-composite', state: 'INSUFFICIENT_DATA', reason: null, since: null },
    ]);
    expect(cw).toHaveReceivedCommandTimes(DescribeAlarmsCommand, 2);
    expect(cw).toHaveReceivedCommandWith(DescribeAlarmsCommand, {
      AlarmNames: expect.arrayContaining(['tps-deploy-api-oomKills']),
      AlarmTypes: ['MetricAlarm', 'CompositeAlarm'],
    });
  });

  test('more than 100 names are asked in batches of 100', async () => {
    cw.on(DescribeAlarmsCommand).resolves({ MetricAlarms: [] });
    const names = Array.from({ length: 150 }, (_, i) => `a${i}`);
    const out = await new CloudWatchAlarmStates({ client: cw as unknown as CloudWatchClient }).read(names);
    expect(out).toHaveLength(150);
    const calls = cw.commandCalls(DescribeAlarmsCommand).map((c) => c.args[0].input.AlarmNames?.length);
    expect(calls).toEqual([100, 50]);
  });

  test('throttling becomes AwsTransientError; access denied is thrown as it is', async () => {
    const states = new CloudWatchAlarmStates({ client: cw as unknown as CloudWatchClient });
    cw.on(DescribeAlarmsCommand).rejects(throttled());
    await expect(states.read(['a'])).rejects.toMatchObject({ name: ERROR_NAMES.awsTransient });
    cw.reset();
    cw.on(DescribeAlarmsCommand).rejects(
      Object.assign(new Error('not authorized'), { name: 'AccessDenied' }),
    );
    await expect(states.read(['a'])).rejects.toMatchObject({ name: 'AccessDenied' });
  });
});

describe('RdsDatabaseSnapshots', () => {
  const rds = mockClient(RDSClient);
  beforeEach(() => rds.reset());
  const snapshots = () => new RdsDatabaseSnapshots({ client: rds as unknown as RDSClient });
  const instance = { kind: 'rds-instance' as const, identifier: 'shop-db' };
  const cluster = { kind: 'aurora-cluster' as const, identifier: 'shop-aurora' };

  test('an RDS instance: CreateDBSnapshot, then DescribeDBSnapshots until available', async () => {
    // CreateDBSnapshot returns DBSnapshot { DBSnapshotIdentifier, Status: "creating", PercentProgress, DBSnapshotArn }.
    rds.on(CreateDBSnapshotCommand).resolves({
      DBSnapshot: {
        DBSnapshotIdentifier: 'tps-api-x',
        DBInstanceIdentifier: 'shop-db',
        Status: 'creating',
        PercentProgress: 0,
        DBSnapshotArn: 'arn:aws:rds:us-east-1:123456789012:snapshot:tps-api-x',
      },
    });
    rds
      .on(DescribeDBSnapshotsCommand)
      .resolvesOnce({
        DBSnapshots: [{ DBSnapshotIdentifier: 'tps-api-x', Status: 'creating', PercentProgress: 40 }],
      })
      .resolves({
        DBSnapshots: [
          {
            DBSnapshotIdentifier: 'tps-api-x',
            Status: 'available',
            PercentProgress: 100,
            DBSnapshotArn: 'arn:aws:rds:us-east-1:123456789012:snapshot:tps-api-x',
          },
        ],
      });
    const s = snapshots();
    expect(await s.create(instance, 'tps-api-x')).toEqual({
      snapshotId: 'tps-api-x',
      status: 'creating',
      detail: 'creating (0%)',
      arn: 'arn:aws:rds:us-east-1:123456789012:snapshot:tps-api-x',
    });
    expect(rds).toHaveReceivedCommandWith(CreateDBSnapshotCommand, {
      DBInstanceIdentifier: 'shop-db',
      DBSnapshotIdentifier: 'tps-api-x',
    });
    expect((await s.status(instance, 'tps-api-x')).detail).toBe('creating (40%)');
    expect((await s.status(instance, 'tps-api-x')).status).toBe('available');
    expect(rds).toHaveReceivedCommandWith(DescribeDBSnapshotsCommand, {
      DBInstanceIdentifier: 'shop-db',
      DBSnapshotIdentifier: 'tps-api-x',
    });
  });

  test('an Aurora cluster: CreateDBClusterSnapshot and DescribeDBClusterSnapshots', async () => {
    rds.on(CreateDBClusterSnapshotCommand).resolves({
      DBClusterSnapshot: {
        DBClusterSnapshotIdentifier: 'tps-api-x',
        DBClusterIdentifier: 'shop-aurora',
        Status: 'creating',
        PercentProgress: 0,
        DBClusterSnapshotArn: 'arn:aws:rds:us-east-1:123456789012:cluster-snapshot:tps-api-x',
      },
    });
    rds.on(DescribeDBClusterSnapshotsCommand).resolves({
      DBClusterSnapshots: [
        { DBClusterSnapshotIdentifier: 'tps-api-x', Status: 'available', PercentProgress: 100 },
      ],
    });
    const s = snapshots();
    expect((await s.create(cluster, 'tps-api-x')).arn).toBe(
      'arn:aws:rds:us-east-1:123456789012:cluster-snapshot:tps-api-x',
    );
    expect(rds).toHaveReceivedCommandWith(CreateDBClusterSnapshotCommand, {
      DBClusterIdentifier: 'shop-aurora',
      DBClusterSnapshotIdentifier: 'tps-api-x',
    });
    expect((await s.status(cluster, 'tps-api-x')).status).toBe('available');
    expect(rds).not.toHaveReceivedCommand(CreateDBSnapshotCommand);
  });

  test('a retried create finds the existing snapshot; a missing one is failed; a missing database is thrown', async () => {
    rds.on(CreateDBSnapshotCommand).rejects(
      new DBSnapshotAlreadyExistsFault({
        message:
          'Cannot create the snapshot because a snapshot with the identifier tps-api-x already exists.',
        $metadata: {},
      }),
    );
    rds
      .on(DescribeDBSnapshotsCommand)
      .resolves({ DBSnapshots: [{ DBSnapshotIdentifier: 'tps-api-x', Status: 'available' }] });
    expect((await snapshots().create(instance, 'tps-api-x')).status).toBe('available');

    rds.reset();
    rds
      .on(DescribeDBSnapshotsCommand)
      .rejects(new DBSnapshotNotFoundFault({ message: 'DBSnapshot tps-api-y not found.', $metadata: {} }));
    expect(await snapshots().status(instance, 'tps-api-y')).toMatchObject({
      status: 'failed',
      detail: 'snapshot tps-api-y not found',
    });

    rds.reset();
    rds
      .on(CreateDBClusterSnapshotCommand)
      .rejects(new DBClusterNotFoundFault({ message: 'DBCluster shop-aurora not found.', $metadata: {} }));
    await expect(snapshots().create(cluster, 'tps-api-x')).rejects.toMatchObject({
      name: 'DBClusterNotFoundFault',
    });

    rds.reset();
    rds.on(DescribeDBClusterSnapshotsCommand).rejects(throttled());
    await expect(snapshots().status(cluster, 'tps-api-x')).rejects.toMatchObject({
      name: ERROR_NAMES.awsTransient,
    });
  });

  test.each([
    ['available', 'available'],
    ['creating', 'creating'],
    ['copying', 'creating'],
    ['failed', 'failed'],
    ['incompatible-restore', 'failed'],
    ['deleting', 'failed'],
  ])('status %s -> %s', (word, status) => {
    expect(snapshotStatusOf('s', { Status: word }).status).toBe(status);
  });
});

describe('SfnTaskTokens', () => {
  const sfn = mockClient(SFNClient);
  beforeEach(() => sfn.reset());
  const tokens = () => new SfnTaskTokens({ client: sfn as unknown as SFNClient });

  test('succeed sends the output as JSON; fail sends error and cause', async () => {
    sfn.on(SendTaskSuccessCommand).resolves({});
    sfn.on(SendTaskFailureCommand).resolves({});
    await tokens().succeed('tok-1', { approved: true, by: 'lead' });
    expect(sfn).toHaveReceivedCommandWith(SendTaskSuccessCommand, {
      taskToken: 'tok-1',
      output: '{"approved":true,"by":"lead"}',
    });
    await tokens().fail('tok-2', 'ApprovalRejected', 'rejected by lead: not today');
    expect(sfn).toHaveReceivedCommandWith(SendTaskFailureCommand, {
      taskToken: 'tok-2',
      error: 'ApprovalRejected',
      cause: 'rejected by lead: not today',
    });
  });

  test('a closed request keeps the service error name; throttling is transient', async () => {
    sfn.on(SendTaskSuccessCommand).rejects(new TaskTimedOut({ message: 'Task Timed Out', $metadata: {} }));
    await expect(tokens().succeed('t', {})).rejects.toMatchObject({ name: 'TaskTimedOut' });
    sfn.reset();
    sfn.on(SendTaskFailureCommand).rejects(new InvalidToken({ message: 'Invalid Token', $metadata: {} }));
    await expect(tokens().fail('t', 'E', 'c')).rejects.toMatchObject({ name: 'InvalidToken' });
    sfn.reset();
    sfn.on(SendTaskSuccessCommand).rejects(throttled());
    await expect(tokens().succeed('t', {})).rejects.toMatchObject({ name: ERROR_NAMES.awsTransient });
  });
});

describe('HttpOnCallDirectory (a real HTTP server on 127.0.0.1)', () => {
  let server: Server;
  let base: string;
  const timers: ReturnType<typeof setTimeout>[] = [];
  const routes: Record<string, (res: import('node:http').ServerResponse) => void> = {
    '/list': (res) =>
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"onCall":["alice","bob"]}'),
    '/one': (res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"onCall":"carol"}'),
    '/objects': (res) =>
      res.writeHead(200).end('{"onCall":[{"name":"dave","until":"2026-11-19T08:00:00Z"}]}'),
    '/nobody': (res) => res.writeHead(200).end('{"onCall":[]}'),
    '/error': (res) => res.writeHead(503).end('maintenance'),
    '/html': (res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<html>hi</html>'),
    '/shape': (res) => res.writeHead(200).end('{"who":"alice"}'),
    '/slow': (res) => {
      timers.push(setTimeout(() => res.writeHead(200).end('{"onCall":["late"]}'), 2500));
    },
  };
  beforeAll(async () => {
    server = createServer((req, res) => {
      const route = routes[req.url ?? ''];
      if (route) route(res);
      else res.writeHead(404).end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    for (const t of timers) clearTimeout(t);
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });
  const ask = (path: string, timeoutSeconds = 5) =>
    new HttpOnCallDirectory().whoIsOnCall({ url: `${base}${path}`, timeoutSeconds });

  test('names from a list, a single name, or objects with a name; an empty list is nobody', async () => {
    expect(await ask('/list')).toEqual({ onCall: ['alice', 'bob'], source: `${base}/list (HTTP 200)` });
    expect((await ask('/one')).onCall).toEqual(['carol']);
    expect((await ask('/objects')).onCall).toEqual(['dave']);
    expect((await ask('/nobody')).onCall).toEqual([]);
  });

  test('a bad status, not JSON, another shape, or no answer in time: an error naming the endpoint', async () => {
    await expect(ask('/error')).rejects.toThrow(/HTTP 503.*maintenance/);
    await expect(ask('/html')).rejects.toThrow(/did not answer JSON/);
    await expect(ask('/shape')).rejects.toThrow(/no "onCall" list/);
    await expect(ask('/slow', 1)).rejects.toThrow(/no answer within 1 s/);
    expect(() => namesOf({ onCall: [42] }, 'x')).toThrow(/not a name/);
  });
});

describe('Kubernetes Job runner: manifest and status', () => {
  test('the manifest: no retries, deadline, TTL, never restarted, env as name/value', () => {
    const job = jobManifest(
      {
        namespace: 'shop',
        name: 'api-tps-migrate-abc',
        image: 'r/migrate:v2',
        command: ['migrate', 'up'],
        env: { DB: 'shop', TPS_MIGRATION: 'migrate' },
        kind: 'migrate',
        service: 'shop',
        timeoutSeconds: 1800,
        pod: JOB_POD,
      },
      { 'tps-deploy.io/job': 'migrate' },
    );
    expect(job.spec).toMatchObject({
      backoffLimit: 0,
      activeDeadlineSeconds: 1800,
      ttlSecondsAfterFinished: 86_400,
      template: {
        metadata: { labels: { 'tps-deploy.io/job': 'migrate' } },
        spec: {
          restartPolicy: 'Never',
          containers: [
            {
              name: 'job',
              image: 'r/migrate:v2',
              command: ['migrate', 'up'],
              env: [
                { name: 'DB', value: 'shop' },
                { name: 'TPS_MIGRATION', value: 'migrate' },
              ],
            },
          ],
        },
      },
    });
  });

  test('the runner derives the labels from the kind and the service; the pods carry no release selector labels', () => {
    const request = { kind: 'migrate', service: 'shop' };
    expect(jobLabels(request)).toEqual({
      'app.kubernetes.io/managed-by': 'tps-deploy',
      'tps-deploy.io/service': 'shop',
      'tps-deploy.io/job': 'migrate',
    });
    expect(jobPodLabels(request)).toEqual({
      'app.kubernetes.io/managed-by': 'tps-deploy',
      'tps-deploy.io/job': 'migrate',
    });
  });

  const meta = { name: 'j', namespace: 'shop' };
  test.each([
    [{ active: 1, startTime: new Date('2026-11-18T10:00:00Z') }, 'running', /running \(active 1/],
    [
      {
        succeeded: 1,
        startTime: new Date('2026-11-18T10:00:00Z'),
        completionTime: new Date('2026-11-18T10:00:04Z'),
        conditions: [
          { type: 'SuccessCriteriaMet', status: 'True' },
          { type: 'Complete', status: 'True' },
        ],
      },
      'succeeded',
      /completed \(active 0, succeeded 1, failed 0\)/,
    ],
    [
      {
        failed: 1,
        startTime: new Date('2026-11-18T10:00:00Z'),
        conditions: [
          { type: 'FailureTarget', status: 'True' },
          {
            type: 'Failed',
            status: 'True',
            reason: 'BackoffLimitExceeded',
            message: 'Job has reached the specified backoff limit',
            lastTransitionTime: new Date('2026-11-18T10:00:03Z'),
          },
        ],
      },
      'failed',
      /failed \(BackoffLimitExceeded: Job has reached the specified backoff limit\); active 0, succeeded 0, failed 1/,
    ],
  ] as const)('%#: %s', (status, state, detail) => {
    const s = jobStatusOf({ metadata: meta, status } as never);
    expect(s.state).toBe(state);
    expect(s.detail).toMatch(detail);
    expect(s.logs).toBe('kubectl -n shop logs job/j');
  });
});
