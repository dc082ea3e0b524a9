/** The record's transitions, table-driven: outcome, phases and timeline, with no store behind them. */
import type { WorkloadHealth } from '../../functions/domain/pods.js';
import type { Outcome, WindowDecision } from '../../functions/domain/record.js';
import {
  failPhase,
  markFailed,
  markRolledBack,
  markSucceeded,
  openPhase,
  recordDecision,
} from '../../functions/domain/record-transitions.js';
import { at, runningRecord } from '../helpers/records.js';

const record = runningRecord;
const healthy: WorkloadHealth = {
  desired: 2,
  ready: 2,
  updated: 2,
  restarts: 0,
  crashLooping: [],
  oomKilled: [],
  notReady: [],
  pods: [],
};
const decision = (verdict: WindowDecision['verdict']): WindowDecision => ({
  phase: 'canary',
  attempt: 0,
  start: at(60).toISOString(),
  end: at(660).toISOString(),
  verdict,
  summary: `window ${verdict}`,
  checks: [],
  canary: null,
  stable: null,
  measurementErrors: [],
  traffic: { targetWeight: 10, actualWeight: 10 },
});

describe('phases', () => {
  test('openPhase opens once: a retried shift finds the phase it opened', () => {
    const r = record();
    const first = openPhase(r, 'canary', 10, at(1));
    const again = openPhase(r, 'canary', 10, at(5));
    expect(again).toBe(first);
    expect(r.phases).toEqual([
      {
        name: 'canary',
        weight: 10,
        startedAt: at(1).toISOString(),
        endedAt: null,
        verdict: null,
        decisions: [],
        pods: null,
      },
    ]);
  });

  test.each([
    // verdict, closes, phase verdict, endedAt set
    ['pass', true, 'pass', true],
    ['fail', true, 'fail', true],
    ['inconclusive', false, null, false],
    ['inconclusive', true, 'inconclusive', true],
  ] as const)(
    'recordDecision %s (closes %s) -> phase verdict %s',
    (verdict, closesPhase, phaseVerdict, ended) => {
      const r = record();
      openPhase(r, 'canary', 10, at(1));
      const pr = recordDecision(
        r,
        { decision: decision(verdict), weight: 10, windowStart: at(60), pods: healthy, closesPhase },
        at(660),
      );
      expect(pr.decisions).toHaveLength(1);
      expect(pr.verdict).toBe(phaseVerdict);
      expect(pr.endedAt).toBe(ended ? at(660).toISOString() : null);
      expect(pr.pods).toEqual({ ready: 2, desired: 2, status: '2/2 ready; 0 restarts' });
    },
  );

  test('recordDecision opens a phase that no shift recorded, starting at the window', () => {
    const r = record();
    recordDecision(
      r,
      { decision: decision('pass'), weight: 10, windowStart: at(60), pods: healthy, closesPhase: true },
      at(660),
    );
    expect(r.phases[0]).toMatchObject({ name: 'canary', startedAt: at(60).toISOString(), verdict: 'pass' });
  });

  test('failPhase closes the phase as failed', () => {
    const r = record();
    const pr = openPhase(r, 'staging', 50, at(1));
    failPhase(pr, at(300));
    expect(pr).toMatchObject({ verdict: 'fail', endedAt: at(300).toISOString() });
  });
});

describe('outcomes', () => {
  test('markSucceeded', () => {
    const r = record();
    markSucceeded(r, at(5400));
    expect(r).toMatchObject({ outcome: 'SUCCEEDED', endedAt: at(5400).toISOString() });
    expect(r.events.at(-1)?.message).toBe('released: the new version serves 100% of traffic');
  });

  test.each([
    ['RUNNING', true, 'FAILED'],
    ['SUCCEEDED', false, 'SUCCEEDED'],
    ['ROLLED_BACK', false, 'ROLLED_BACK'],
    ['REJECTED', false, 'REJECTED'],
  ] as const)('markFailed on %s changes it: %s', (outcome: Outcome, changed, after) => {
    const r = record({ outcome });
    expect(markFailed(r, at(10), 'GateFailedError: no')).toBe(changed);
    expect(r.outcome).toBe(after);
    expect(r.events).toHaveLength(changed ? 1 : 0);
  });

  test.each([
    // name, record, facts, expected fields
    [
      'at the canary, from the state machine',
      () => {
        const r = record();
        openPhase(r, 'canary', 10, at(1));
        return r;
      },
      { trigger: 'state-machine', phase: null, keptImages: null },
      {
        outcome: 'ROLLED_BACK',
        finalImage: 'repo/api:v1',
        rollbackPhase: 'canary',
        openPhaseVerdict: 'fail',
      },
    ],
    [
      'in the watch by an alarm (phase given)',
      () => {
        const r = record();
        const pr = openPhase(r, 'production', 100, at(1));
        pr.verdict = 'pass';
        pr.endedAt = at(300).toISOString();
        return r;
      },
      { trigger: 'alarm:app-api-errorRate', phase: 'watch', keptImages: null },
      { outcome: 'ROLLED_BACK', finalImage: 'repo/api:v1', rollbackPhase: 'watch', openPhaseVerdict: 'pass' },
    ],
    [
      "keeping a person's change",
      () => {
        const r = record();
        openPhase(r, 'staging', 50, at(1));
        return r;
      },
      { trigger: 'state-machine', phase: 'staging', keptImages: { api: 'repo/api:hotfix' } },
      {
        outcome: 'ROLLED_BACK',
        finalImage: 'repo/api:hotfix',
        rollbackPhase: 'staging',
        openPhaseVerdict: 'fail',
      },
    ],
    [
      'before any phase',
      () => record(),
      { trigger: 'person:bob', phase: null, keptImages: null },
      { outcome: 'ROLLED_BACK', finalImage: 'repo/api:v1', rollbackPhase: null, openPhaseVerdict: undefined },
    ],
  ] as const)('markRolledBack %s', (_name, make, f, expected) => {
    const r = make();
    const changed = markRolledBack(
      r,
      {
        trigger: f.trigger,
        reason: 'why',
        phase: f.phase,
        startedAt: at(700),
        keptImages: f.keptImages,
        keptDeployment: 'shop/api',
      },
      at(702),
    );
    expect(changed).toBe(true);
    expect(r.outcome).toBe(expected.outcome);
    expect(r.finalImage).toBe(expected.finalImage);
    expect(r.rollback).toMatchObject({
      trigger: f.trigger,
      reason: 'why',
      phase: expected.rollbackPhase,
      startedAt: at(700).toISOString(),
      completedAt: at(702).toISOString(),
    });
    expect(r.phases.at(-1)?.verdict).toBe(expected.openPhaseVerdict);
    expect(r.events[0]?.message).toBe(`rolled back by ${f.trigger}: why`);
    expect(r.events.some((e) => e.message.startsWith('drift:'))).toBe(f.keptImages !== null);
  });

  test('markRolledBack records once, and says when the schema stays migrated', () => {
    const r = record({
      migration: {
        when: 'before',
        image: 'm:1',
        snapshot: null,
        job: null,
        rollbackJob: null,
        status: 'applied',
        schema: 'new',
      },
    });
    expect(
      markRolledBack(
        r,
        { trigger: 't', reason: 'r', phase: null, startedAt: at(1), keptImages: null },
        at(2),
      ),
    ).toBe(true);
    expect(r.events.map((e) => e.message)).toContain(
      'the database keeps the migrated schema: only the code was rolled back',
    );
    const events = r.events.length;
    expect(
      markRolledBack(
        r,
        { trigger: 't2', reason: 'r2', phase: null, startedAt: at(3), keptImages: null },
        at(4),
      ),
    ).toBe(false);
    expect(r.events).toHaveLength(events);
    expect(r.rollback?.trigger).toBe('t');
  });
});
