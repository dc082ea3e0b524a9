/**
 * Holds, the hotfix path and the post-deployment watch, end to end on the local control plane
 * (synthesized state machine, real step code, dynalite, synthetic traffic on a virtual clock).
 */
import { afterEach, describe, expect, jest, test } from '@jest/globals';
import { answerPending } from '../../functions/release/approval.js';
import { requestHold } from '../../functions/release/hold.js';
import { STEPS } from '../../functions/release/registry.js';
import { OLD_IMAGES } from '../helpers/k8s.js';
import {
  ATTESTED,
  appState,
  closeFixtures,
  inOrder,
  kinds,
  NEW_IMAGES,
  recordWhen,
  runbookFixture,
} from '../helpers/runbook.js';

jest.setTimeout(180_000);
afterEach(closeFixtures);

describe('hotfix', () => {
  test('a hotfix with a risk acknowledgement skips staging, owes the review, runs its canary tests and watches 2 h', async () => {
    const f = await runbookFixture('rb-hotfix', {
      approval: false,
      tests: { canary: { image: 'registry.local/shop/smoke:v1', command: ['smoke', '--canary'] } },
    });
    const run = await f.env.run(
      {
        service: 'shop',
        images: NEW_IMAGES,
        mode: 'hotfix',
        requestedBy: 'dana',
        attestations: { testsPassed: true, riskAcknowledgement: 'checkout is failing for every customer' },
      },
      { executionName: 'hotfix-1' },
    );
    expect(run.cause).toBeNull();
    expect(run.status).toBe('SUCCEEDED');
    expect(run.states).not.toContain('Shift 50% To Staging');
    expect(run.states).not.toContain('Request Approval');
    expect(
      inOrder(run.states, [
        'Start Canary Tests',
        'Canary Validation Window',
        'Check Canary Tests',
        'Validate Canary',
      ]),
    ).toBe(true);
    const rec = run.record!;
    expect(rec.mode).toBe('hotfix');
    expect(rec.phases.map((p) => p.name)).toEqual(['canary', 'production']);
    expect(rec.followUps).toEqual([
      expect.objectContaining({
        item: 'code review owed',
        detail: expect.stringMatching(/risk acknowledged: "checkout is failing/),
      }),
    ]);
    expect(rec.gates!.find((g) => g.name === 'attestations')!.evidence).toMatch(
      /hotfix with 0 distinct reviewers of 2 required/,
    );
    // The canary's tests ran as a Job and are part of its verdict.
    const tests = rec.phases[0]!.tests!;
    expect(tests).toMatchObject({ status: 'succeeded', passed: true, image: 'registry.local/shop/smoke:v1' });
    expect(tests.durationSeconds).toBeGreaterThanOrEqual(0);
    expect(tests.logs).toBe(`kubectl -n ${f.app.namespace} logs job/${tests.name}`);
    expect(rec.phases[0]!.decisions.at(-1)!.checks.find((c) => c.name === 'tests')?.verdict).toBe('pass');
    // The longer watch: 2 h, then stand down.
    expect(rec.watch).toMatchObject({ seconds: 7200 });
    expect(rec.watch!.standDownAt).not.toBeNull();
    expect(Date.parse(rec.watch!.standDownAt!) - Date.parse(rec.watch!.startedAt)).toBeGreaterThanOrEqual(
      7_200_000,
    );
    expect(run.virtualSeconds).toBeGreaterThanOrEqual(7200 + 300);
    const standDown = f.env.notifier.ofKind('stand-down');
    expect(standDown).toHaveLength(1);
    expect(standDown[0]!.message).toMatch(/Still owed:\n- code review owed/);
  });
});

describe('post-deployment watch', () => {
  test('a critical alarm during the watch rolls the release back and stops the execution', async () => {
    const f = await runbookFixture('rb-watch', { approval: false });
    const before = await appState(f);
    const running = f.env.run(
      { service: 'shop', images: NEW_IMAGES, ...ATTESTED },
      { executionName: 'watch-1', waitMs: { 'Post-Deployment Watch': 60_000 } },
    );
    await recordWhen(f, 'watch-1', 'the watch', (r) => !!r.watch);
    expect((await f.env.store.active('shop'))?.stage).toBe('watching');
    expect((await appState(f)).template).not.toEqual(before.template);
    // EventBridge "CloudWatch Alarm State Change" (CloudWatch user guide, "Alarm events and EventBridge").
    const reasonData = JSON.stringify({
      version: '1.0',
      queryDate: '2026-11-18T10:07:00.000+0000',
      startDate: '2026-11-18T10:06:00.000+0000',
      statistic: 'Maximum',
      period: 60,
      recentDatapoints: [1],
      threshold: 1,
      evaluatedDatapoints: [{ timestamp: '2026-11-18T10:06:00.000+0000', sampleCount: 1, value: 1 }],
    });
    const outcome = await STEPS.alarmRollback(f.env.ports, {
      version: '0',
      id: 'c4c1c1c9-6542-e61b-6ef0-8c4d36933a92',
      'detail-type': 'CloudWatch Alarm State Change',
      source: 'aws.cloudwatch',
      account: '123456789012',
      time: '2026-11-18T10:07:03Z',
      region: 'us-east-1',
      resources: ['arn:aws:cloudwatch:us-east-1:123456789012:alarm:tps-test-shop-oomKills'],
      detail: {
        alarmName: 'tps-test-shop-oomKills',
        state: {
          value: 'ALARM',
          reason:
            'Threshold Crossed: 1 out of the last 1 datapoints [1.0 (18/11/26 10:06:00)] was greater than or equal to the threshold (1.0).',
          reasonData,
          timestamp: f.env.clock.now().toISOString(),
        },
        previousState: {
          value: 'OK',
          reason: 'Threshold Crossed',
          timestamp: '2026-11-18T09:00:00.000+0000',
        },
        configuration: {
          description: 'A container of the stable or canary Deployment was OOM-killed. Rolls back.',
          metrics: [],
        },
      },
    });
    expect(outcome).toMatchObject({ action: 'rolled-back', service: 'shop', deploymentId: 'watch-1' });
    const run = await running;
    expect(run.status).toBe('ABORTED');
    expect(run.states).toContain('Post-Deployment Watch');
    expect(run.states).not.toContain('Stand Down');
    // The execution stopped before the alarm's rollback finished: read the record as it is now.
    const rec = (await f.env.store.get('shop', 'watch-1'))!;
    expect(rec.outcome).toBe('ROLLED_BACK');
    expect(rec.rollback).toMatchObject({ phase: 'watch', trigger: 'alarm:tps-test-shop-oomKills' });
    expect(rec.rollback!.reason).toMatch(/pods OOM-killed: Threshold Crossed/);
    expect(rec.finalImage).toBe(OLD_IMAGES.api);
    expect(rec.watch!.standDownAt).toBeNull();
    expect((await appState(f)).template).toEqual(before.template);
    expect(await f.env.store.active('shop')).toBeNull();
    const rollback = f.env.notifier.ofKind('rollback');
    expect(rollback).toHaveLength(1);
    expect(rollback[0]!.message).toMatch(
      /Threshold Crossed.*Restored registry\.local\/shop\/api:v1 at 4 replicas/,
    );
    expect(kinds(f)).not.toContain('stand-down');
  });
});

describe('hold', () => {
  test('a hold stops the release after the canary passes; promote continues it to the end', async () => {
    const f = await runbookFixture('rb-hold', { approval: false });
    const running = f.env.run(
      { service: 'shop', images: NEW_IMAGES, ...ATTESTED },
      { executionName: 'hold-1' },
    );
    await recordWhen(f, 'hold-1', 'the gates', (r) => !!r.gates);
    await requestHold(f.env.ports, {
      service: 'shop',
      deploymentId: 'hold-1',
      by: 'erin',
      reason: 'look at the logs',
    });
    const held = await recordWhen(
      f,
      'hold-1',
      'the hold at canary',
      (r) => r.pendingApproval?.phase === 'canary',
    );
    expect(held.hold).toMatchObject({
      requestedBy: 'erin',
      pending: { phase: 'canary', cause: 'requested' },
    });
    expect(held.phases.map((p) => [p.name, p.verdict])).toEqual([['canary', 'pass']]);
    const ask = f.env.notifier.ofKind('approval-needed');
    expect(ask.at(-1)!.subject).toMatch(/held at canary; promote or abort/);
    expect(ask.at(-1)!.message).toContain('tps-deploy approve hold-1 --service shop');
    await expect(
      answerPending(f.env.ports, { service: 'shop', deploymentId: 'hold-1', yes: true, by: 'erin' }),
    ).resolves.toEqual({ answered: 'hold', phase: 'canary' });
    const run = await running;
    expect(run.cause).toBeNull();
    expect(run.status).toBe('SUCCEEDED');
    expect(
      inOrder(run.states, [
        'Validate Canary',
        'Canary Verdict?',
        'Hold At Canary',
        'Record Canary Promotion',
        'Shift 50% To Staging',
      ]),
    ).toBe(true);
    // The hold was used once: staging and production did not hold again.
    expect(run.states).not.toContain('Hold At Staging');
    expect(run.record!.hold!.decision).toMatchObject({ decision: 'promoted', phase: 'canary', by: 'erin' });
    expect(run.record!.pendingApproval).toBeNull();
  });

  test('a hold nobody answers rolls back when the hold timeout passes, saying so', async () => {
    const f = await runbookFixture('rb-hold-to', { approval: false, holdTimeoutSeconds: 1200 });
    const before = await appState(f);
    const running = f.env.run(
      { service: 'shop', images: NEW_IMAGES, ...ATTESTED },
      { executionName: 'hold-2', tokenTimeoutMs: 400 },
    );
    await recordWhen(f, 'hold-2', 'the gates', (r) => !!r.gates);
    await requestHold(f.env.ports, { service: 'shop', deploymentId: 'hold-2', by: 'erin' });
    const run = await running;
    expect(run.status).toBe('FAILED');
    expect(run.error).toBe('ReleaseRolledBack');
    expect(run.cause).toBe(
      'HoldTimedOut: hold timed out at canary: nobody promoted or aborted within 1200 s',
    );
    expect(inOrder(run.states, ['Hold At Canary', 'Canary Hold Timed Out', 'Roll Back', 'Rolled Back'])).toBe(
      true,
    );
    const rec = run.record!;
    expect(rec.outcome).toBe('ROLLED_BACK');
    expect(rec.rollback).toMatchObject({ phase: 'canary', trigger: 'state-machine' });
    expect(rec.hold!.decision).toMatchObject({ decision: 'timed-out', phase: 'canary' });
    expect(await appState(f)).toEqual(before);
    expect(f.env.notifier.ofKind('rollback')[0]!.message).toMatch(/hold timed out at canary/);
  });

  test('holdOnInconclusive: a window that stays inconclusive holds for a person; abort rolls back', async () => {
    const f = await runbookFixture(
      'rb-hold-inc',
      { approval: false, holdOnInconclusive: true },
      {
        name: 'trickle',
        seed: 11,
        // 0.5 rps for the whole service: the canary never sees the minimum sample.
        rps: 0.5,
        versions: {
          stable: { errorRate: 0, latency: { p50Ms: 50, p99Ms: 180 } },
          canary: { errorRate: 0, latency: { p50Ms: 50, p99Ms: 180 } },
        },
      },
    );
    const before = await appState(f);
    const running = f.env.run(
      { service: 'shop', images: NEW_IMAGES, ...ATTESTED },
      { executionName: 'hold-3' },
    );
    const held = await recordWhen(
      f,
      'hold-3',
      'the hold at canary',
      (r) => r.pendingApproval?.phase === 'canary',
    );
    expect(held.hold).toMatchObject({
      requestedBy: 'tps-deploy (holdOnInconclusive)',
      pending: { phase: 'canary', cause: 'inconclusive' },
    });
    expect(held.phases[0]!.decisions.map((d) => d.verdict)).toEqual(['inconclusive', 'inconclusive']);
    expect(f.env.notifier.ofKind('approval-needed').at(-1)!.message).toMatch(
      /the canary window stayed inconclusive/,
    );
    await answerPending(f.env.ports, {
      service: 'shop',
      deploymentId: 'hold-3',
      yes: false,
      by: 'erin',
      comment: 'too little traffic to tell',
    });
    const run = await running;
    expect(run.status).toBe('FAILED');
    expect(run.error).toBe('ReleaseRolledBack');
    expect(run.cause).toBe(
      'HoldAborted: hold at canary aborted by erin (rejected by erin: too little traffic to tell)',
    );
    expect(
      inOrder(run.states, [
        'Extend Canary Window',
        'Validate Canary',
        'Hold At Canary',
        'Canary Hold Aborted',
        'Roll Back',
      ]),
    ).toBe(true);
    expect(run.states).not.toContain('Canary Inconclusive');
    expect(run.record!.hold!.decision).toMatchObject({ decision: 'aborted', by: 'erin' });
    expect(await appState(f)).toEqual(before);
  });
});
