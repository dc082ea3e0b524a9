/**
 * The runbook's gates and the team lead's approval, end to end: the synthesized state machine on
 * aws-local-stepfunctions with the real step code, the local control plane, dynalite, synthetic
 * traffic on a virtual clock, a real HTTP on-call endpoint on 127.0.0.1, and the local
 * SendTaskSuccess/SendTaskFailure answering the `.waitForTaskToken` approval.
 */

import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, jest, test } from '@jest/globals';
import { answerPending } from '../../functions/release/approval.js';
import { STEPS } from '../../functions/release/registry.js';
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

let server: Server;
let onCallUrl: string;
let onCallNames: string[] = [];
beforeAll(async () => {
  server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ onCall: onCallNames }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  onCallUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/oncall`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});
afterEach(closeFixtures);
// The concurrent tests below run no afterEach: their fixtures go with the next test's, or here.
afterAll(closeFixtures);

describe('pre-deployment gates', () => {
  test('failing gates end the release before any cluster change, with every reason listed and recorded', async () => {
    onCallNames = [];
    const now = Date.now();
    const f = await runbookFixture('rb-gates', {
      onCall: { url: onCallUrl },
      freezeWindows: [
        {
          name: 'test freeze',
          interval: `${new Date(now - 3_600_000).toISOString()}/${new Date(now + 86_400_000).toISOString()}`,
        },
      ],
    });
    f.env.alarmStates.set('tps-test-shop-oomKills', 'ALARM', 'Threshold Crossed: 1 datapoint >= 1');
    const before = await appState(f);
    const run = await f.env.run(
      {
        service: 'shop',
        images: NEW_IMAGES,
        requestedBy: 'dana',
        attestations: { testsPassed: true, reviewers: ['dana', 'erin'] },
        migration: {
          image: 'registry.local/shop/migrate:v2',
          command: ['migrate', 'up'],
          rollbackCommand: ['migrate', 'down'],
          database: { kind: 'aurora-cluster', identifier: 'not-listed' },
        },
      },
      { executionName: 'gates-fail' },
    );
    expect(run.status).toBe('FAILED');
    expect(run.error).toBe('GateFailedError');
    expect(run.states).toEqual(['Validate Input', 'Check Gates', 'Gates Passed?', 'Gates Failed']);
    // Every failing gate is in the cause, not only the first.
    expect(run.cause).toMatch(/^5 of 8 gates failed/);
    for (const reason of [
      /attestations: .*1 distinct reviewer \(erin\) of 2 required \(the requester does not count/,
      /monitoring: in ALARM: tps-test-shop-oomKills \(Threshold Crossed/,
      /on-call: nobody is on call \(http:\/\/127\.0\.0\.1:\d+\/oncall \(HTTP 200\); the endpoint answers for now only\)/,
      /change freeze: .* is inside freeze "test freeze"/,
      /migration plan: .*not-listed is not in the service's databases/,
    ]) {
      expect(run.cause).toMatch(reason);
    }
    const rec = run.record!;
    expect(rec.outcome).toBe('REJECTED');
    expect(rec.gates!.map((g) => [g.name, g.passed])).toEqual([
      ['attestations', false],
      ['monitoring', false],
      ['metrics present', true],
      ['on-call', false],
      ['rollback plan', true],
      ['traffic share', true],
      ['change freeze', false],
      ['migration plan', false],
    ]);
    for (const g of rec.gates!) expect(g.evidence.length).toBeGreaterThan(10);
    expect(rec.gates!.find((g) => g.name === 'metrics present')!.evidence).toMatch(
      /requests .* from version v1/,
    );
    expect(rec.gates!.find((g) => g.name === 'rollback plan')!.evidence).toMatch(
      /4 replicas of api=registry\.local\/shop\/api:v1/,
    );
    expect(rec.phases).toEqual([]);
    // Nothing changed on the cluster; the lock is free; the team got every reason in one message.
    expect(await appState(f)).toEqual(before);
    expect(await f.env.store.active('shop')).toBeNull();
    expect(kinds(f)).toEqual(['finished']);
    const msg = f.env.notifier.notifications[0]!;
    expect(msg.subject).toMatch(/refused by 5 gates/);
    expect(msg.message.match(/^FAIL /gm)).toHaveLength(5);
    expect(f.env.snapshots.taken).toEqual([]);
  });
});

describe('each gate failing alone', () => {
  type Case = {
    gate: string;
    service?: Record<string, unknown>;
    input?: Record<string, unknown>;
    profile?: Parameters<typeof runbookFixture>[2];
    alarm?: boolean;
    /** Gates that cannot pass without this one (their evidence depends on it). */
    alsoFails?: string[];
  };
  const freezeNow = () => {
    const now = Date.now();
    return [
      {
        name: 'release freeze',
        interval: `${new Date(now - 3_600_000).toISOString()}/${new Date(now + 86_400_000).toISOString()}`,
      },
    ];
  };
  const PIPELINE_DUTIES = {
    approvers: ['arn:aws:iam::111122223333:role/AWSReservedSSO_TeamLead_*'],
    requireTestsFrom: { pipeline: 'shop-release', action: 'IntegrationTests' },
  };
  /** testsPassed as the pipeline's action execution `id` vouches for it. */
  const fromPipeline = (id: string) => ({
    attestations: {
      ...ATTESTED.attestations,
      provenance: {
        testsPassed: {
          source: 'codepipeline-action',
          actionName: 'IntegrationTests',
          actionExecutionId: id,
          pipelineExecutionId: 'pe-1',
        },
      },
    },
  });
  const cases: Case[] = [
    // An attestation naming an action execution CodePipeline never ran (typed by a person).
    { gate: 'tests provenance', service: { duties: PIPELINE_DUTIES }, input: fromPipeline('ae-forged') },
    { gate: 'attestations', input: { attestations: { testsPassed: true, reviewers: ['alice'] } } },
    { gate: 'monitoring', alarm: true },
    {
      gate: 'metrics present',
      profile: {
        name: 'silent',
        seed: 1,
        rps: 0,
        versions: {
          stable: { errorRate: 0, latency: { p50Ms: 50, p99Ms: 180 } },
          canary: { errorRate: 0, latency: { p50Ms: 50, p99Ms: 180 } },
        },
      },
    },
    { gate: 'on-call', service: { onCall: { url: 'ON_CALL_URL' } } },
    // Without a readable Deployment the current version is unknown, so its metrics cannot be found.
    {
      gate: 'rollback plan',
      service: { deployment: 'no-such-deployment' },
      alsoFails: ['metrics present', 'traffic share'],
    },
    // 4 replicas give a 10% canary 20% of the traffic, 10 points off: more than this service allows.
    {
      gate: 'traffic share',
      service: { router: { type: 'replica-ratio', service: 'shop', shareTolerance: 5 } },
    },
    { gate: 'change freeze', service: { freezeWindows: 'FREEZE' } },
    {
      gate: 'migration plan',
      input: {
        migration: {
          image: 'registry.local/shop/migrate:v2',
          command: ['migrate', 'up'],
          rollbackCommand: ['migrate', 'down'],
          database: { kind: 'rds-instance', identifier: 'not-listed' },
        },
      },
    },
  ];

  // Each case has its own fixture and all want nobody on call at the endpoint: side by side.
  test.concurrent.each(cases)('$gate alone stops the release before any cluster change', async (c) => {
    onCallNames = [];
    const service = Object.fromEntries(
      Object.entries(c.service ?? {}).map(([k, v]) => [
        k,
        v === 'FREEZE' ? freezeNow() : k === 'onCall' ? { url: onCallUrl } : v,
      ]),
    );
    const f = await runbookFixture('rb-gate1', service, c.profile);
    if (c.alarm)
      f.env.alarmStates.set('tps-test-shop-oomKills', 'ALARM', 'Threshold Crossed: 1 datapoint >= 1');
    const before = await appState(f);
    const run = await f.env.run({ service: 'shop', images: NEW_IMAGES, ...ATTESTED, ...c.input });
    expect(run.error).toBe('GateFailedError');
    const expected = [c.gate, ...(c.alsoFails ?? [])].sort();
    const gates = c.service?.duties ? 9 : 8;
    expect(run.cause).toMatch(new RegExp(`^${expected.length} of ${gates} gates failed`));
    const failed = run.record!.gates!.filter((g) => !g.passed).map((g) => g.name);
    expect(failed.sort()).toEqual(expected);
    expect(run.record!.outcome).toBe('REJECTED');
    expect(run.record!.phases).toEqual([]);
    expect(await appState(f)).toEqual(before);
    expect(await f.env.store.active('shop')).toBeNull();
  });
});

describe('traffic share: what a replica-ratio canary really gets', () => {
  test('a 1-replica service at a 10% canary is refused at the gates, with the share it would get and the fix', async () => {
    const f = await runbookFixture('rb-share', {}, undefined, { replicas: 1 });
    const before = await appState(f);
    const run = await f.env.run({ service: 'shop', images: NEW_IMAGES, ...ATTESTED });
    expect(run.error).toBe('GateFailedError');
    expect(run.cause).toMatch(
      /^1 of 8 gates failed: traffic share: service shop, phase canary: asked 10%, the replica-ratio router can give 50% with 1 pod \(1 new \+ 1 old\), 40 points off \(tolerance 10\); fix: run at least 4 replicas, or use the alb router, whose target-group weights give exact shares; or accept the deviation with services\.shop\.router\.acceptShareDeviation: true/,
    );
    expect(run.record!.outcome).toBe('REJECTED');
    expect(await appState(f)).toEqual(before);
    expect(await f.env.store.active('shop')).toBeNull();
  });

  test('accepted by the catalog: the gate passes with a warning, and the canary does take half the traffic', async () => {
    const f = await runbookFixture(
      'rb-share-ok',
      { approval: false, router: { type: 'replica-ratio', service: 'shop', acceptShareDeviation: true } },
      undefined,
      { replicas: 1 },
    );
    const run = await f.env.run({ service: 'shop', images: NEW_IMAGES, ...ATTESTED });
    expect(run.cause).toBeNull();
    expect(run.status).toBe('SUCCEEDED');
    const rec = run.record!;
    expect(rec.gates!.find((g) => g.name === 'traffic share')).toEqual({
      name: 'traffic share',
      passed: true,
      evidence: expect.stringMatching(
        /^WARNING: service shop, phase canary: asked 10%, the replica-ratio router can give 50% with 1 pod .*; accepted by services\.shop\.router\.acceptShareDeviation/,
      ),
    });
    const gatesMessage = f.env.notifier.ofKind('decision').find((n) => /gates passed/.test(n.subject))!;
    expect(gatesMessage.message).toMatch(/^PASS traffic share: WARNING: /m);
    const canary = rec.phases.find((p) => p.name === 'canary')!;
    expect(canary.decisions[0]!.traffic).toEqual({ targetWeight: 10, actualWeight: 50 });
  });
});

describe('tests provenance', () => {
  test("CodePipeline's record of the action execution passes the gate; the evidence names it", async () => {
    const f = await runbookFixture('rb-prov', {
      duties: {
        approvers: ['arn:aws:iam::111122223333:role/AWSReservedSSO_TeamLead_*'],
        requireTestsFrom: { pipeline: 'shop-release', action: 'IntegrationTests' },
      },
    });
    f.env.pipelines.record({
      pipelineName: 'shop-release',
      pipelineExecutionId: 'pe-1',
      actionExecutionId: 'ae-1',
      stageName: 'Test',
      actionName: 'IntegrationTests',
      status: 'Succeeded',
      lastUpdateTime: '2026-12-05T08:00:00.000Z',
      // What the tests action exported: its tests passed, for the image this release deploys.
      outputVariables: { TPS_TESTS_PASSED: 'true', TPS_IMAGE: NEW_IMAGES.api },
    });
    // Another gate fails, so the release stops at the gates and the test need not run it.
    f.env.alarmStates.set('tps-test-shop-oomKills', 'ALARM', 'Threshold Crossed: 1 datapoint >= 1');
    const provenance = {
      testsPassed: {
        source: 'codepipeline-action',
        actionName: 'IntegrationTests',
        actionExecutionId: 'ae-1',
        pipelineExecutionId: 'pe-1',
      },
    };
    // The api container's image alone: the one image the tests action vouches for.
    const run = await f.env.run({
      service: 'shop',
      images: { api: NEW_IMAGES.api },
      attestations: { ...ATTESTED.attestations, provenance },
    });
    expect(run.error).toBe('GateFailedError');
    const gates = run.record!.gates!;
    expect(gates.filter((g) => !g.passed).map((g) => g.name)).toEqual(['monitoring']);
    expect(gates.find((g) => g.name === 'tests provenance')).toEqual({
      name: 'tests provenance',
      passed: true,
      evidence: `CodePipeline recorded action execution ae-1 in pipeline shop-release execution pe-1 (Test/IntegrationTests, Succeeded at 2026-12-05T08:00:00.000Z): TPS_TESTS_PASSED=true, TPS_IMAGE=${NEW_IMAGES.api}`,
    });
  });
});

describe('team-lead approval', () => {
  test('an approved release proceeds; the record and the notifications show each step', async () => {
    onCallNames = ['lee'];
    const f = await runbookFixture('rb-approve', { onCall: { url: onCallUrl } });
    const before = await appState(f);
    const running = f.env.run(
      { service: 'shop', images: NEW_IMAGES, requestedBy: 'dana', changeRef: 'CHG-7', ...ATTESTED },
      { executionName: 'approve-1' },
    );
    const waiting = await recordWhen(f, 'approve-1', 'the approval request', (r) => !!r.pendingApproval);
    // The token is kept in its own item, never in the record.
    const token = await f.env.store.taskToken('shop', 'approve-1');
    expect(token).toContain('Request Approval');
    expect(JSON.stringify(waiting)).not.toContain(token!);
    expect(
      Date.parse(waiting.pendingApproval!.expiresAt) - Date.parse(waiting.pendingApproval!.requestedAt),
    ).toBe(3_600_000);
    expect(waiting.gates!.every((g) => g.passed)).toBe(true);
    expect(waiting.gates!.find((g) => g.name === 'on-call')!.evidence).toMatch(/on call: lee \(http:/);
    // Nothing happened on the cluster while waiting.
    expect(await appState(f)).toEqual(before);
    const ask = f.env.notifier.ofKind('approval-needed');
    expect(ask).toHaveLength(1);
    expect(ask[0]!.message).toContain('tps-deploy approve approve-1 --service shop');
    expect(ask[0]!.message).toContain('tps-deploy reject approve-1 --service shop');
    expect(ask[0]!.message).toMatch(/dana asks to release .*api:v2 \(standard\), change CHG-7/);

    await expect(
      answerPending(f.env.ports, {
        service: 'shop',
        deploymentId: 'approve-1',
        yes: true,
        by: 'lead',
        comment: 'go',
      }),
    ).resolves.toEqual({ answered: 'approval', phase: null });
    const run = await running;
    expect(run.cause).toBeNull();
    expect(run.status).toBe('SUCCEEDED');
    expect(
      inOrder(run.states, ['Check Gates', 'Request Approval', 'Record Approval', 'Record Rollback Plan']),
    ).toBe(true);
    const rec = run.record!;
    expect(rec.approval).toMatchObject({ decision: 'approved', by: 'lead', comment: 'go' });
    expect(rec.pendingApproval).toBeNull();
    // about to start, each decision, approval needed, stand-down, finished: in this order.
    expect(
      inOrder(kinds(f), [
        'decision', // gates passed
        'approval-needed',
        'decision', // approved
        'starting',
        'decision', // canary
        'decision', // staging
        'decision', // production
        'decision', // watching
        'stand-down',
        'finished',
      ]),
    ).toBe(true);
    expect(f.env.notifier.ofKind('decision').map((n) => n.subject)).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/gates passed/),
        expect.stringMatching(/approved by lead/),
        expect.stringMatching(/canary pass -> proceed/),
      ]),
    );
    // A second answer finds nothing waiting.
    await expect(
      answerPending(f.env.ports, { service: 'shop', deploymentId: 'approve-1', yes: true, by: 'lead' }),
    ).rejects.toThrow(/not waiting for an answer/);
  });

  test('a rejected release ends REJECTED before any cluster change and frees the service', async () => {
    const f = await runbookFixture('rb-reject');
    const before = await appState(f);
    const running = f.env.run(
      { service: 'shop', images: NEW_IMAGES, ...ATTESTED },
      { executionName: 'reject-1' },
    );
    await recordWhen(f, 'reject-1', 'the approval request', (r) => !!r.pendingApproval);
    await answerPending(f.env.ports, {
      service: 'shop',
      deploymentId: 'reject-1',
      yes: false,
      by: 'lead',
      comment: 'not during the sale',
    });
    const run = await running;
    expect(run.status).toBe('FAILED');
    expect(run.error).toBe('ReleaseRejected');
    expect(run.cause).toBe('rejected by lead: not during the sale');
    expect(run.states.slice(-3)).toEqual(['Mark Release Rejected', 'Rejected?', 'Release Rejected']);
    expect(run.states).not.toContain('Record Rollback Plan');
    expect(run.record!.outcome).toBe('REJECTED');
    expect(run.record!.approval).toMatchObject({ decision: 'rejected', by: 'lead' });
    expect(await appState(f)).toEqual(before);
    expect(await f.env.store.active('shop')).toBeNull();
    expect(f.env.notifier.ofKind('finished').at(-1)!.subject).toMatch(/rejected/);
  });

  test('a critical alarm while the release waits for approval only notifies: nothing of it is deployed', async () => {
    const f = await runbookFixture('rb-alarm-wait');
    const before = await appState(f);
    const running = f.env.run(
      { service: 'shop', images: NEW_IMAGES, ...ATTESTED },
      { executionName: 'wait-1' },
    );
    await recordWhen(f, 'wait-1', 'the approval request', (r) => !!r.pendingApproval);
    const event = JSON.parse(
      readFileSync(new URL('../fixtures/alarm-events/latency-alarm.json', import.meta.url), 'utf8'),
    ) as unknown;
    const outcome = (await STEPS.alarmRollback(f.env.ports, event)) as { action: string; detail: string };
    expect(outcome.action).toBe('notified');
    expect(outcome.detail).toMatch(/has not changed the cluster yet/);
    const rec = await f.env.store.get('shop', 'wait-1');
    expect(rec!.outcome).toBe('RUNNING');
    expect(rec!.rollback).toBeNull();
    expect(f.env.notifier.ofKind('alarm')).toHaveLength(1);
    await answerPending(f.env.ports, {
      service: 'shop',
      deploymentId: 'wait-1',
      yes: false,
      by: 'lead',
      comment: 'alarm',
    });
    const run = await running;
    expect(run.error).toBe('ReleaseRejected');
    expect(await appState(f)).toEqual(before);
  });

  test('an unanswered approval times out after the configured time: REJECTED', async () => {
    const f = await runbookFixture('rb-timeout', { approvalTimeoutSeconds: 900 });
    const run = await f.env.run(
      { service: 'shop', images: NEW_IMAGES, ...ATTESTED },
      { executionName: 'timeout-1', tokenTimeoutMs: 300 },
    );
    expect(run.status).toBe('FAILED');
    expect(run.error).toBe('ReleaseRejected');
    expect(run.cause).toBe('approval timed out: nobody approved within 900 s');
    expect(run.record!.approval).toMatchObject({ decision: 'timed-out', by: null });
    // The virtual clock moved by the approval timeout, not by the 300 ms really waited only.
    expect(run.virtualSeconds).toBeGreaterThanOrEqual(900);
    expect(run.virtualSeconds).toBeLessThan(1000);
    expect(await f.env.store.active('shop')).toBeNull();
  });
});
