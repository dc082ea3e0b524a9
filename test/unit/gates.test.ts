/** The gates' judgments (pure), table-driven, and the settings the state machine branches on. */

import { expectedReleaseSeconds } from '../../functions/domain/budget.js';
import { parseCatalog, type ServiceConfig } from '../../functions/domain/config.js';
import { holdCause } from '../../functions/domain/decisions.js';
import { RUNBOOK } from '../../functions/domain/defaults.js';
import {
  activeFreezes,
  judgeAttestations,
  judgeFreeze,
  judgeMetrics,
  judgeMigration,
  judgeMonitoring,
  judgeOnCall,
  judgeOnCallSpan,
  judgeRollbackPlan,
  judgeTrafficShare,
  releaseWeights,
  runbookSettings,
  serviceAlarmNames,
} from '../../functions/domain/gates.js';
import type { ExecutionInput } from '../../functions/domain/input.js';
import type { HoldState } from '../../functions/domain/record.js';
import type { WindowMetrics } from '../../functions/ports/metrics.js';
import { rejecterOf } from '../../functions/release/approval.js';
import { jobNameFor } from '../../functions/release/job-runs.js';
import { testsCheck } from '../../functions/release/jobs.js';
import { snapshotIdFor } from '../../functions/release/migration.js';
import sample from '../../tps.config.js';

type Att = ExecutionInput['attestations'];
const input = (mode: 'standard' | 'hotfix', attestations: Att, requestedBy = 'dana') => ({
  mode,
  attestations,
  requestedBy,
});

describe('attestations', () => {
  test.each<[string, 'standard' | 'hotfix', Att, boolean, RegExp]>([
    [
      'two reviewers, tests passed',
      'standard',
      { testsPassed: true, reviewers: ['alice', 'bob'] },
      true,
      /2 distinct reviewers \(alice, bob\)/,
    ],
    [
      'no attestations at all',
      'standard',
      undefined,
      false,
      /no attestation that tests passed.*0 distinct reviewers of 2/,
    ],
    [
      'tests failed',
      'standard',
      { testsPassed: false, reviewers: ['alice', 'bob'] },
      false,
      /tests did not pass/,
    ],
    [
      'one reviewer',
      'standard',
      { testsPassed: true, reviewers: ['alice'] },
      false,
      /1 distinct reviewer \(alice\) of 2 required/,
    ],
    [
      'the same reviewer twice, different case',
      'standard',
      { testsPassed: true, reviewers: ['Alice', 'alice '] },
      false,
      /1 distinct reviewer/,
    ],
    [
      'the requester reviewing their own change',
      'standard',
      { testsPassed: true, reviewers: ['dana', 'bob'] },
      false,
      /requester does not count/,
    ],
    [
      'hotfix, no reviews, no acknowledgement',
      'hotfix',
      { testsPassed: true },
      false,
      /needs attestations\.riskAcknowledgement/,
    ],
    [
      'hotfix, tests failed even with acknowledgement',
      'hotfix',
      { testsPassed: false, riskAcknowledgement: 'checkout is down for everyone' },
      false,
      /tests did not pass/,
    ],
    [
      'hotfix, no reviews, risk acknowledged',
      'hotfix',
      { testsPassed: true, riskAcknowledgement: 'checkout is down for everyone' },
      true,
      /risk acknowledged: "checkout is down for everyone"/,
    ],
    [
      'hotfix with full reviews',
      'hotfix',
      { testsPassed: true, reviewers: ['alice', 'bob'] },
      true,
      /2 distinct reviewers/,
    ],
  ])('%s', (_name, mode, att, passed, evidence) => {
    const j = judgeAttestations(input(mode, att), 2);
    expect(j.gate.passed).toBe(passed);
    expect(j.gate.evidence).toMatch(evidence);
  });

  test('a hotfix short of reviews owes the review as a follow-up; a reviewed one owes nothing', () => {
    const owed = judgeAttestations(
      input('hotfix', {
        testsPassed: true,
        reviewers: ['alice'],
        riskAcknowledgement: 'payments failing at 30%',
      }),
      2,
    );
    expect(owed.followUps).toEqual([
      {
        item: 'code review owed',
        detail: expect.stringMatching(/1 distinct reviewer .* of 2 required; risk acknowledged/),
      },
    ]);
    expect(
      judgeAttestations(input('hotfix', { testsPassed: true, reviewers: ['a', 'b'] }), 2).followUps,
    ).toEqual([]);
  });

  test('evidence links are part of the evidence', () => {
    const j = judgeAttestations(
      input('standard', {
        testsPassed: true,
        reviewers: ['a', 'b'],
        evidence: { ci: 'https://ci.example.com/run/7' },
      }),
      2,
    );
    expect(j.gate.evidence).toContain('ci: https://ci.example.com/run/7');
  });
});

describe('monitoring', () => {
  const r = (
    name: string,
    state: 'OK' | 'ALARM' | 'INSUFFICIENT_DATA' | 'MISSING',
    reason: string | null = null,
  ) => ({
    name,
    state,
    reason,
    since: null,
  });
  test.each([
    [[r('a', 'OK'), r('b', 'OK')], true, /2 alarms, none in ALARM: a OK, b OK/],
    [[r('a', 'OK'), r('b', 'INSUFFICIENT_DATA')], true, /b INSUFFICIENT_DATA/],
    [
      [r('a', 'ALARM', 'Threshold Crossed: 2 datapoints > 0.01'), r('b', 'OK')],
      false,
      /in ALARM: a \(Threshold Crossed/,
    ],
    [[r('a', 'MISSING'), r('b', 'OK')], false, /alarms not found: a/],
    [[r('a', 'ALARM'), r('b', 'MISSING')], false, /in ALARM: a; alarms not found: b/],
    [[], false, /no alarms/],
  ])('%j -> %s', (readings, passed, evidence) => {
    const j = judgeMonitoring(readings);
    expect(j.gate.passed).toBe(passed);
    expect(j.gate.evidence).toMatch(evidence);
  });

  test('the alarm names are the ones the stack creates for the service', () => {
    const catalog = parseCatalog(sample);
    const api = serviceAlarmNames('tps-deploy', 'api', catalog.services.api!);
    expect(api).toEqual([
      'tps-deploy-api-errorRate',
      'tps-deploy-api-latency',
      'tps-deploy-api-circuitBreaker',
      'tps-deploy-api-metricsMissing',
      'tps-deploy-api-oomKills',
    ]);
    const synthetic = {
      ...catalog.services.api!,
      metrics: { source: 'synthetic', profile: 'healthy' },
    } as ServiceConfig;
    expect(serviceAlarmNames('tps-deploy', 'api', synthetic)).toEqual(['tps-deploy-api-oomKills']);
  });
});

describe('metrics present', () => {
  const series = (requests: number) => ({
    requests,
    errors: 0,
    errorRate: 0,
    p50Ms: 50,
    p99Ms: 200,
    rps: requests / 900,
    cpu: null,
    memory: null,
    disk: null,
    p99Series: [],
    errorRateSeries: [],
    requestSeries: [],
  });
  test.each<[WindowMetrics, boolean, RegExp]>([
    [
      { canary: null, stable: series(9000), measurementErrors: [] },
      true,
      /9000 requests \(10\.0 rps\) from version v1/,
    ],
    [
      { canary: null, stable: series(0), measurementErrors: [] },
      false,
      /no requests from version v1 over the last 900 s/,
    ],
    [
      { canary: null, stable: null, measurementErrors: ['GetMetricData: AccessDenied'] },
      false,
      /measurement errors: GetMetricData: AccessDenied/,
    ],
  ])('%#', (m, passed, evidence) => {
    const j = judgeMetrics(m, 900, 'v1');
    expect(j.gate.passed).toBe(passed);
    expect(j.gate.evidence).toMatch(evidence);
  });
});

describe('on-call, rollback plan, migration', () => {
  test('on-call needs a name', () => {
    expect(judgeOnCall(['alice'], 'schedule').gate).toEqual({
      name: 'on-call',
      passed: true,
      evidence: 'on call: alice (schedule)',
    });
    expect(judgeOnCall([], 'https://x (HTTP 200)').gate.passed).toBe(false);
  });

  test('rollback plan: readable Deployment or the reason it is not', () => {
    const ok = judgeRollbackPlan(
      {
        namespace: 'shop',
        deployment: 'api',
        replicas: 4,
        template: {},
        images: { api: 'r/api:v1' },
        generation: 3,
        recordedAt: '2026-11-18T00:00:00Z',
      },
      null,
    );
    expect(ok.gate.evidence).toBe('Deployment shop/api readable: 4 replicas of api=r/api:v1 (generation 3)');
    expect(judgeRollbackPlan(null, 'TargetNotFoundError: deployment shop/api not found').gate).toMatchObject({
      passed: false,
      evidence: expect.stringContaining('deployment shop/api not found'),
    });
  });

  test('a migration may snapshot only a database the catalog lists', () => {
    const svc = {
      databases: [{ kind: 'aurora-cluster', identifier: 'shop-db' }],
    } as unknown as ServiceConfig;
    const m = (identifier: string) => ({
      migration: {
        image: 'r/migrate:v2',
        command: ['migrate'],
        rollbackCommand: ['migrate', 'down'],
        when: 'before' as const,
        database: { kind: 'aurora-cluster' as const, identifier },
        env: {},
      },
    });
    expect(judgeMigration({}, svc)).toBeNull();
    expect(judgeMigration(m('shop-db'), svc)?.gate.passed).toBe(true);
    expect(judgeMigration(m('other-db'), svc)?.gate).toMatchObject({
      passed: false,
      evidence: expect.stringMatching(/not in the service's databases \(shop-db\)/),
    });
  });
});

describe('traffic share (the share a phase can really give the new version)', () => {
  const RUNBOOK_PHASES = [
    { phase: 'canary', weight: 10 },
    { phase: 'staging', weight: 50 },
    { phase: 'production', weight: 100 },
  ] as const;
  const judge = (over: Partial<Parameters<typeof judgeTrafficShare>[0]>) =>
    judgeTrafficShare({
      service: 'api',
      router: 'replica-ratio',
      replicas: 10,
      phases: RUNBOOK_PHASES,
      tolerance: RUNBOOK.gates.shareTolerance,
      accept: false,
      ...over,
    });

  test.each<[string, Partial<Parameters<typeof judgeTrafficShare>[0]>, boolean, RegExp]>([
    [
      '10 replicas: every phase exact',
      {},
      true,
      /replica-ratio router with 10 pods \(replicas now\): canary 10% -> 10% \(1 new \+ 9 old pods\), staging 50% -> 50% \(5 new \+ 5 old pods\), production 100% -> 100% \(10 new \+ 10 old pods\); every phase within 10 points/,
    ],
    [
      '4 replicas: a 10% canary gets 20%, 10 points off, within the default tolerance',
      { replicas: 4 },
      true,
      /canary 10% -> 20% \(1 new \+ 4 old pods\)/,
    ],
    [
      '1 replica: a 10% canary takes half the traffic; refused, with the fix',
      { replicas: 1 },
      false,
      /^service api, phase canary: asked 10%, the replica-ratio router can give 50% with 1 pod \(1 new \+ 1 old\), 40 points off \(tolerance 10\); fix: run at least 4 replicas, or use the alb router, whose target-group weights give exact shares; or accept the deviation with services\.api\.router\.acceptShareDeviation: true\. replica-ratio router with 1 pod \(replica now\)/,
    ],
    [
      '1 replica accepted by the catalog: passes with a warning naming the same',
      { replicas: 1, accept: true },
      true,
      /^WARNING: service api, phase canary: asked 10%, the replica-ratio router can give 50% with 1 pod .*; accepted by services\.api\.router\.acceptShareDeviation; fix: run at least 4 replicas, or use the alb router/,
    ],
    [
      '4 replicas with a 5-point tolerance: refused; 6 replicas give 14.29%',
      { replicas: 4, tolerance: 5 },
      false,
      /phase canary: asked 10%, the replica-ratio router can give 20% with 4 pods \(1 new \+ 4 old\), 10 points off \(tolerance 5\); fix: run at least 6 replicas/,
    ],
    [
      'every phase off is named',
      {
        replicas: 2,
        phases: [
          { phase: 'canary', weight: 10 },
          { phase: 'staging', weight: 25 },
          { phase: 'production', weight: 100 },
        ],
        tolerance: 0,
      },
      false,
      /phase canary: asked 10%, .* can give 33\.33% .*; service api, phase staging: asked 25%, .* can give 33\.33%/,
    ],
    [
      'a hotfix skips staging: only the phases it runs are judged',
      {
        replicas: 3,
        phases: [
          { phase: 'canary', weight: 25 },
          { phase: 'production', weight: 100 },
        ],
        tolerance: 0,
      },
      true,
      /canary 25% -> 25% \(1 new \+ 3 old pods\), production 100% -> 100%/,
    ],
    [
      'the alb router gives exact weights whatever the replicas',
      { router: 'alb', replicas: 1 },
      true,
      /^alb router: target-group weights give every phase exactly its weight \(canary 10%, staging 50%, production 100%\)/,
    ],
    ['replicas unknown: cannot be checked, fails', { replicas: null }, false, /replica count is unknown/],
    [
      '0 replicas: fails',
      { replicas: 0 },
      false,
      /runs 0 replicas: the replica-ratio router needs at least 1/,
    ],
  ])('%s', (_label, over, passed, evidence) => {
    const j = judge(over);
    expect(j.gate.name).toBe('traffic share');
    expect(j.gate.passed).toBe(passed);
    expect(j.gate.evidence).toMatch(evidence);
    expect(j.followUps).toEqual([]);
  });

  test('releaseWeights: the phases the plan runs, with its weights', () => {
    const phases = (skip: boolean) => ({
      canary: { ...RUNBOOK.phases.canary, weight: 5 },
      staging: { ...RUNBOOK.phases.staging, skip },
      production: RUNBOOK.phases.production,
    });
    expect(releaseWeights({ phases: phases(false) })).toEqual([
      { phase: 'canary', weight: 5 },
      { phase: 'staging', weight: 50 },
      { phase: 'production', weight: 100 },
    ]);
    expect(releaseWeights({ phases: phases(true) }).map((p) => p.phase)).toEqual(['canary', 'production']);
  });
});

describe('change freeze', () => {
  const windows = [
    { name: 'year end', interval: '2026-12-20T00:00:00Z/2027-01-04T00:00:00Z' },
    { name: 'weekend', cron: '0 17 * * FRI', durationMinutes: 3840, allowHotfix: false },
  ];
  test.each<[string, 'standard' | 'hotfix', boolean, RegExp]>([
    [
      '2026-11-18T12:00:00Z',
      'standard',
      true,
      /no freeze covers 2026-11-18T12:00:00.000Z \(2 windows configured\)/,
    ],
    ['2026-12-22T12:00:00Z', 'standard', false, /inside freeze "year end".*only hotfixes may start/],
    [
      '2026-12-22T12:00:00Z',
      'hotfix',
      true,
      /hotfix inside freeze "year end" \(2026-12-20T00:00:00.000Z to 2027-01-04T00:00:00.000Z\), which allows hotfixes/,
    ],
    ['2026-11-21T12:00:00Z', 'hotfix', false, /inside freeze "weekend".*does not allow hotfixes/],
    ['2026-12-26T12:00:00Z', 'hotfix', false, /"weekend"/], // a Saturday inside both
  ])('%s %s -> %s', (time, mode, passed, evidence) => {
    const j = judgeFreeze(windows, mode, new Date(time));
    expect(j.gate.passed).toBe(passed);
    expect(j.gate.evidence).toMatch(evidence);
  });

  test('a hotfix in a freeze that allows it owes a follow-up', () => {
    const j = judgeFreeze(windows, 'hotfix', new Date('2026-12-22T12:00:00Z'));
    expect(j.followUps.map((f) => f.item)).toEqual(['released during a change freeze']);
    expect(activeFreezes(windows, new Date('2026-12-26T12:00:00Z')).map((f) => f.name)).toEqual([
      'year end',
      'weekend',
    ]);
  });
});

describe('settings the state machine reads', () => {
  const svc = parseCatalog(sample).services.api!;
  test('defaults: approval required, runbook timeouts, no tests, no migration', () => {
    expect(runbookSettings(svc, {})).toEqual({
      approvalRequired: true,
      approvalTimeoutSeconds: RUNBOOK.approvalTimeoutSeconds,
      holdTimeoutSeconds: RUNBOOK.holdTimeoutSeconds,
      tests: { canary: false, staging: false, production: false },
      migrateBefore: false,
      migrateAfter: false,
      snapshot: false,
    });
  });
  test('service overrides and a migration after the deploy with a database', () => {
    const s = runbookSettings(
      { ...svc, approval: false, holdTimeoutSeconds: 120, tests: { canary: { image: 'r/smoke:v1' } } },
      {
        migration: {
          image: 'r/m:v1',
          command: ['m'],
          rollbackCommand: ['m', 'down'],
          when: 'after',
          database: { kind: 'rds-instance', identifier: 'db1' },
          env: {},
        },
      },
    );
    expect(s).toMatchObject({
      approvalRequired: false,
      holdTimeoutSeconds: 120,
      tests: { canary: true, staging: false },
      migrateAfter: true,
      migrateBefore: false,
      snapshot: true,
    });
  });
});

describe('holds', () => {
  const requested: HoldState = { requestedBy: 'erin', at: '2026-11-18T10:00:00Z' };
  const decided: HoldState = {
    ...requested,
    decision: { decision: 'promoted', phase: 'canary', by: 'erin', at: '2026-11-18T10:05:00Z' },
  };
  test.each([
    // verdict, canExtend, hold, holdOnInconclusive, expected
    ['pass', false, requested, false, 'requested'],
    ['pass', false, null, false, null],
    ['pass', false, decided, false, null], // a hold is used once
    ['fail', false, requested, false, null], // a failure still rolls back
    ['inconclusive', true, null, true, null], // extend first
    ['inconclusive', false, null, true, 'inconclusive'],
    ['inconclusive', false, null, false, null], // fail safe
  ] as const)(
    '%s canExtend=%s hold=%j holdOnInconclusive=%s -> %s',
    (verdict, canExtend, hold, hoi, expected) => {
      expect(holdCause({ verdict, canExtend, hold, holdOnInconclusive: hoi })).toBe(expected);
    },
  );

  test("the CLI's rejection cause names who rejected", () => {
    expect(rejecterOf('rejected by bob: not during the sale')).toBe('bob');
    expect(rejecterOf('rejected by bob')).toBe('bob');
    expect(rejecterOf('nope')).toBeNull();
  });
});

describe('names and checks', () => {
  test('Job names are deterministic, at most 63 characters and distinct per kind', () => {
    const a = jobNameFor('api', 'migrate', 'exec-1');
    expect(a).toMatch(/^api-tps-migrate-[0-9a-z]{7}$/);
    expect(jobNameFor('api', 'migrate', 'exec-1')).toBe(a);
    expect(jobNameFor('api', 'migrate', 'exec-2')).not.toBe(a);
    const long = jobNameFor('a'.repeat(80), 'migrate-rollback', 'x');
    expect(long.length).toBeLessThanOrEqual(63);
    expect(long).toMatch(/^a+-tps-migrate-rollback-/);
  });

  test('snapshot ids follow the RDS rules, and ids that RDS would fold never share one', () => {
    const rds = /^[a-z][a-z0-9]*(-[a-z0-9]+)*$/;
    expect(snapshotIdFor('api', 'local-123-abc-9')).toBe('tps-api-local-123-abc-9');
    expect(snapshotIdFor('api', 'local-123-AbC_9')).toMatch(/^tps-api-local-123-abc-9-[0-9a-f]{10}$/);
    const long = snapshotIdFor('api', `x--${'y'.repeat(100)}-`);
    expect(long.length).toBeLessThanOrEqual(63);
    expect(long).toMatch(rds);
    const folding = ['Rel_1', 'rel-1', 'REL-1', 'rel_1', 'rel.1', `${'z'.repeat(70)}1`, `${'z'.repeat(70)}2`];
    const ids = folding.map((id) => snapshotIdFor('api', id));
    for (const id of ids) {
      expect(id).toMatch(rds);
      expect(id.length).toBeLessThanOrEqual(63);
    }
    expect(new Set(ids).size).toBe(folding.length);
  });

  test('tests check: none, passed, failed, still running', () => {
    const run = {
      name: 'j',
      namespace: 'n',
      image: 'i',
      startedAt: 't',
      completedAt: null,
      detail: 'd',
      logs: 'kubectl -n n logs job/j',
    };
    expect(testsCheck({})).toBeNull();
    expect(
      testsCheck({ tests: { ...run, status: 'succeeded', passed: true, durationSeconds: 3 } })?.verdict,
    ).toBe('pass');
    expect(
      testsCheck({ tests: { ...run, status: 'failed', passed: false, durationSeconds: 2 } }),
    ).toMatchObject({
      verdict: 'fail',
      detail: expect.stringMatching(/test Job j failed in 2 s: d; logs: kubectl -n n logs job\/j/),
    });
    expect(
      testsCheck({ tests: { ...run, status: 'running', passed: null, durationSeconds: null } })?.verdict,
    ).toBe('fail');
  });
});

describe('on-call over the whole release (#13.5)', () => {
  test.each([
    ['on call at start and end', ['alice'], ['bob'], true],
    ['nobody at the end', ['alice'], [], false],
    ['nobody at the start', [], ['bob'], false],
  ] as const)('%s', (_n, start, end, passed) => {
    const j = judgeOnCallSpan(start, end, 'schedule');
    expect(j.gate.passed).toBe(passed);
    if (!passed && start.length) expect(j.gate.evidence).toContain('nobody at the expected end');
  });

  test('the expected end: windows (staging skipped for a hotfix) and the watch', () => {
    const phases = {
      canary: { windowSeconds: 600 },
      staging: { windowSeconds: 900, skip: false },
      production: { windowSeconds: 300 },
    };
    expect(expectedReleaseSeconds({ phases, watchSeconds: 3600 } as never)).toBe(5400);
    expect(
      expectedReleaseSeconds({
        phases: { ...phases, staging: { windowSeconds: 900, skip: true } },
        watchSeconds: 7200,
      } as never),
    ).toBe(8100);
  });
});
