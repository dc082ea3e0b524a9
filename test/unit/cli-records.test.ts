import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DescribeExecutionCommand, SFNClient } from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import type { DynamoDbDeploymentStore } from '../../functions/adapters/aws/dynamodb-store.js';
import type { DeploymentRecord } from '../../functions/domain/record.js';
import { toRecordJson } from '../../functions/domain/record-json.js';
import type { LocalDynamo } from '../helpers/dynalite.js';
import { cli, executionArn, record, tableFixture } from './cli-harness.js';

const FIXTURE = new URL('../fixtures/record-rolled-back-at-staging.json', import.meta.url).pathname;
const fixture = JSON.parse(readFileSync(FIXTURE, 'utf8')) as DeploymentRecord;

const sfn = mockClient(SFNClient);
let dynamo: LocalDynamo;
let store: DynamoDbDeploymentStore;
let dir: string;

beforeAll(async () => {
  ({ dynamo, store } = await tableFixture());
  dir = await mkdtemp(join(tmpdir(), 'cli-records-'));
  // Three deployments of web, one of api (the staging rollback captured from a local run).
  for (const [i, outcome] of (['SUCCEEDED', 'ROLLED_BACK', 'SUCCEEDED'] as const).entries()) {
    await store.put(
      record({
        deploymentId: `web-${i + 1}`,
        service: 'web',
        image: `repo/web:v${i + 2}.0.0`,
        previousImage: `repo/web:v${i + 1}.0.0`,
        startedAt: `2026-11-2${i + 1}T10:00:00.000Z`,
        outcome,
        rollback:
          outcome === 'ROLLED_BACK'
            ? {
                trigger: 'alarm:tps-test-web-error-rate',
                reason: 'errors',
                phase: 'watch',
                startedAt: 'x',
                completedAt: 'y',
              }
            : null,
      }),
    );
  }
  await store.put({ ...fixture, service: 'api', executionArn: executionArn('api', fixture.deploymentId) });
});
afterAll(async () => {
  await dynamo.stop();
  await rm(dir, { recursive: true, force: true });
});
beforeEach(() => {
  sfn.reset();
  // DescribeExecution documented shape: executionArn, stateMachineArn, name, status, startDate, stopDate, error, cause.
  sfn.on(DescribeExecutionCommand).resolves({
    executionArn: executionArn('api', fixture.deploymentId),
    stateMachineArn: 'arn:aws:states:us-east-1:123456789012:stateMachine:tps-test-api',
    name: fixture.deploymentId,
    status: 'FAILED',
    startDate: new Date(fixture.startedAt),
    stopDate: new Date(fixture.endedAt!),
    error: 'ReleaseRolledBack',
    cause: 'ValidationFailed',
  });
});

describe('status', () => {
  it('finds a deployment id in whichever service has it and shows record and execution', async () => {
    const r = await cli(['status', fixture.deploymentId], { dynamo });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(
      `storefront ${fixture.deploymentId}: ROLLED_BACK`.replace('storefront', 'api'),
    );
    expect(r.stdout).toMatch(/staging\s+50%\s+fail/);
    expect(r.stdout).toContain('rolled back at staging by state-machine');
    expect(r.stdout).toContain('execution FAILED (ReleaseRolledBack)');
    expect(sfn).toHaveReceivedCommandWith(DescribeExecutionCommand, {
      executionArn: executionArn('api', fixture.deploymentId),
    });
  });

  it('takes an execution ARN (service from the state machine name) and prints JSON', async () => {
    const r = await cli(['status', executionArn('api', fixture.deploymentId), '--json'], { dynamo });
    expect(r.code).toBe(0);
    const json = JSON.parse(r.stdout);
    const { execution, links, ...rest } = json;
    expect(links.execution).toBe(
      `https://us-east-1.console.aws.amazon.com/states/home?region=us-east-1#/v2/executions/details/${executionArn('api', fixture.deploymentId)}`,
    );
    expect(rest).toEqual(
      toRecordJson({ ...fixture, service: 'api', executionArn: executionArn('api', fixture.deploymentId) }),
    );
    expect(execution).toMatchObject({ status: 'FAILED', error: 'ReleaseRolledBack' });
  });

  it('shows the execution when there is no record (input refused at Validate Input)', async () => {
    sfn.on(DescribeExecutionCommand).resolves({
      executionArn: executionArn('api', 'refused-1'),
      stateMachineArn: 'arn:aws:states:us-east-1:123456789012:stateMachine:tps-test-api',
      status: 'FAILED',
      startDate: new Date(),
      error: 'InvalidInputError',
      cause: 'invalid input: image: must be an image reference',
    });
    const r = await cli(['status', executionArn('api', 'refused-1')], { dynamo });
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(
      /execution FAILED \(InvalidInputError: invalid input: image.*no deployment record/,
    );
  });

  it('fails clearly for an unknown id, a malformed ARN, and a missing table', async () => {
    const unknown = await cli(['status', 'nope'], { dynamo });
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/no deployment nope in table tps-test-deployments \(looked in api, web\)/);
    const arn = await cli(['status', 'arn:aws:s3:::bucket'], { dynamo });
    expect(arn.code).toBe(2);
    expect(arn.stderr).toMatch(/not a Step Functions execution ARN/);
    const table = await cli(['status', 'web-1', '--table', 'missing-table'], { dynamo });
    expect(table.code).toBe(1);
    expect(table.stderr).toMatch(/reading web-1 from missing-table failed: ResourceNotFoundException/);
  });
});

describe('status of a hold', () => {
  const hold = { requestedBy: 'erin', at: '2026-11-20T10:01:00.000Z', reason: null };
  it('names the hold while it waits for a promote, and only then', async () => {
    await store.put(
      record({
        deploymentId: 'hold-waits',
        hold: {
          ...hold,
          pending: {
            phase: 'canary',
            since: '2026-11-20T10:12:00.000Z',
            expiresAt: '2026-11-21T10:12:00.000Z',
            cause: 'requested',
          },
        },
      }),
    );
    const waits = await cli(['status', 'hold-waits'], { dynamo });
    expect(waits.stdout).toContain(
      '  on hold since 2026-11-20T10:01:00.000Z (erin): tps-deploy promote hold-waits',
    );
    // Promoted and released: no promote to ask for any more.
    await store.put(
      record({
        deploymentId: 'hold-promoted',
        outcome: 'SUCCEEDED',
        endedAt: '2026-11-20T11:00:00.000Z',
        hold: {
          ...hold,
          pending: null,
          decision: { decision: 'promoted', phase: 'canary', by: 'erin', at: '2026-11-20T10:20:00.000Z' },
        },
      }),
    );
    const promoted = await cli(['status', 'hold-promoted'], { dynamo });
    expect(promoted.code).toBe(0);
    expect(promoted.stdout).not.toContain('on hold');
  });
});

describe('history', () => {
  it('lists deployments newest first, up to --limit', async () => {
    const r = await cli(['history', '--service', 'web', '--limit', '2'], { dynamo });
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^STARTED\s+DEPLOYMENT\s+OUTCOME\s+IMAGE\s+BY\s+ROLLBACK$/);
    expect(lines).toHaveLength(3);
    expect(lines[1]).toMatch(/^2026-11-23 10:00:00\s+web-3\s+SUCCEEDED\s+repo\/web:v4.0.0/);
    expect(lines[2]).toMatch(/web-2\s+ROLLED_BACK.*watch: alarm:tps-test-web-error-rate$/);
  });

  it('prints records as JSON', async () => {
    const r = await cli(['history', '--service', 'web', '--json'], { dynamo });
    const json = JSON.parse(r.stdout) as { deploymentId: string; outcome: string }[];
    expect(json.map((j) => [j.deploymentId, j.outcome])).toEqual([
      ['web-3', 'SUCCEEDED'],
      ['web-2', 'ROLLED_BACK'],
      ['web-1', 'SUCCEEDED'],
    ]);
  });

  it('refuses bad flags, naming them', async () => {
    const limit = await cli(['history', '--service', 'web', '--limit', 'ten'], { dynamo });
    expect(limit.code).toBe(2);
    expect(limit.stderr).toMatch(
      /option '--limit <n>' argument 'ten' is invalid. --limit must be a positive integer/,
    );
    const service = await cli(['history', '--service', 'payments'], { dynamo });
    expect(service.code).toBe(2);
    expect(service.stderr).toMatch(/--service: unknown service "payments"; the catalog has api, web/);
    const missing = await cli(['history'], { dynamo });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/required option '--service <name>' not specified/);
  });

  it('says when the table cannot be reached', async () => {
    const r = await cli(['history', '--service', 'web']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/reading the history of web from tps-test-deployments failed/);
  });
});

describe('report', () => {
  it('--md: the release checklist', async () => {
    const r = await cli(['report', fixture.deploymentId, '--md'], { dynamo });
    expect(r.code).toBe(0);
    const md = r.stdout;
    expect(md).toMatch(/^# Release checklist: api v1\.3\.0/);
    expect(md).toContain('| Engineer | jane@example.com |');
    expect(md).toContain('| Change ref | CHG-2041 |');
    expect(md).toContain('## Phase 1: canary (10%)');
    expect(md).toContain('## Phase 2: staging (50%)');
    expect(md).toMatch(/- \[x\] Pods ready: 2\/2/);
    expect(md).toMatch(
      /- \[ \] Error rate: 1\.07% \(972\/90813\) vs limit 0\.1%; stable 0\.0197%.*\*\*FAILED\*\*/,
    );
    expect(md).toMatch(/- \[ \] p99 latency: 337 ms vs target 300 ms; stable 221 ms/);
    expect(md).toMatch(/- \[x\] Throughput: 202\.4 rps total vs baseline 200\.9 rps \(1\.01x\)/);
    expect(md).toMatch(/- \[x\] CPU \/ memory \/ disk: 45\.6% \/ 56\.3% \/ 37% \(limit 80%\)/);
    expect(md).toContain('- **Verdict: fail** — Staging window failed');
    expect(md).toContain('- **Decision:** roll back (rolled back here)');
    expect(md).toContain('- **Decision:** proceed to staging (50%)');
    expect(md).toMatch(/## Rollback\n\n- Trigger: state-machine\n- Phase: staging/);
    expect(md).toMatch(/## Lessons learned\n\n_For the team to fill in._/);
    // every check of every window, with its numbers
    expect(md.match(/^\| (canary|staging) \(\d+%\) \|/gm)).toHaveLength(14);
  });

  it('--json: the documented record shape', async () => {
    const r = await cli(['report', fixture.deploymentId, '--json'], { dynamo });
    expect(JSON.parse(r.stdout)).toEqual(
      toRecordJson({ ...fixture, service: 'api', executionArn: executionArn('api', fixture.deploymentId) }),
    );
  });

  it('--html FILE: a self-contained page', async () => {
    const file = join(dir, 'report.html');
    const r = await cli(['report', fixture.deploymentId, '--html', file], { dynamo });
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(`wrote ${file}`);
    const html = await readFile(file, 'utf8');
    expect(html).toMatch(/^<!DOCTYPE html>/);
    expect(html).toContain('Chart.js v4'); // inlined, not linked
    expect(html).not.toMatch(/<script[^>]+src=/);
    expect(html).not.toMatch(/<link[^>]+href=/);
    expect(html).toContain('id="chart-error-rate"');
    expect(html).toContain('id="chart-p99"');
    expect(html).toContain('rolled back 07:59:51');
  });

  it('reads a record file with --file, and text by default', async () => {
    const r = await cli(['report', '--file', FIXTURE]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`storefront ${fixture.deploymentId}: ROLLED_BACK`);
  });

  it('refuses two formats, a missing id, and a file that is not a record', async () => {
    const two = await cli(['report', 'x', '--md', '--json'], { dynamo });
    expect(two.code).toBe(2);
    expect(two.stderr).toMatch(/give one of --md, --html FILE, --json/);
    const none = await cli(['report'], { dynamo });
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/give a deployment id/);
    const bad = await cli(['report', '--file', new URL('../../package.json', import.meta.url).pathname]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/is not a deployment record/);
  });
});
