/**
 * The release metrics, table-driven: who rolled back (trigger kinds), when detection started, the
 * event of each ended record, the documents each event becomes, and those documents as the EMF
 * adapter writes them (the JSON that CloudWatch Logs turns into metrics).
 */
import { describe, expect, test } from '@jest/globals';
import { EmfReleaseTelemetry } from '../../functions/adapters/powertools/emf-telemetry.js';
import {
  type DeploymentRecord,
  EXECUTION_STOPPED_TRIGGERS,
  type RollbackInfo,
  STATE_MACHINE_TRIGGER,
  type TriggerKind,
  triggerKind,
} from '../../functions/domain/record.js';
import {
  markFailed,
  markRolledBack,
  markSucceeded,
  openPhase,
} from '../../functions/domain/record-transitions.js';
import {
  detectionStartedAt,
  metricDocuments,
  RELEASE_METRICS,
  type ReleaseEvent,
  releaseEnded,
  releaseStarted,
} from '../../functions/domain/release-metrics.js';
import { at, runningRecord } from '../helpers/records.js';

const { names, namespace } = RELEASE_METRICS;

const record = runningRecord;

/** A release with canary (opened at 100 s) and staging (opened at 1000 s) phases. */
function withPhases(): DeploymentRecord {
  const r = record();
  openPhase(r, 'canary', 10, at(100));
  openPhase(r, 'staging', 50, at(1000));
  return r;
}

describe('trigger kinds', () => {
  test.each<[string, TriggerKind]>([
    [STATE_MACHINE_TRIGGER, 'state-machine'],
    ['alarm:tps-api-errorRate', 'alarm'],
    ['person:jane', 'person'],
    [EXECUTION_STOPPED_TRIGGERS.ABORTED, 'execution-stopped'],
    [EXECUTION_STOPPED_TRIGGERS.TIMED_OUT, 'execution-stopped'],
    [EXECUTION_STOPPED_TRIGGERS.FAILED, 'execution-stopped'],
    ['something-else', 'other'],
  ])('%s -> %s', (trigger, kind) => {
    expect(triggerKind(trigger)).toBe(kind);
  });
});

describe('time to detect starts at the failing phase, the watch, or the release', () => {
  test.each<[string, RollbackInfo['phase'], number]>([
    ['staging failed: its start', 'staging', 1000],
    ['canary failed: its start', 'canary', 100],
    ['while recording the plan: the release start', 'record', 0],
    ['in clean up: the release start', 'cleanup', 0],
    ['no phase known: the release start', null, 0],
    ['production never opened: the release start', 'production', 0],
    ['during the watch: the watch start', 'watch', 2000],
  ])('%s', (_name, phase, startSecond) => {
    const r = withPhases();
    r.watch = {
      startedAt: at(2000).toISOString(),
      seconds: 600,
      until: at(2600).toISOString(),
      standDownAt: null,
    };
    r.rollback = {
      trigger: 'state-machine',
      reason: 'x',
      phase,
      startedAt: at(2100).toISOString(),
      completedAt: at(2130).toISOString(),
    };
    expect(detectionStartedAt(r)).toBe(at(startSecond).toISOString());
  });
});

describe('the event of an ended release', () => {
  test('a running or rejected release is not counted', () => {
    expect(releaseEnded(record())).toBeNull();
    expect(releaseEnded(record({ outcome: 'REJECTED', endedAt: at(50).toISOString() }))).toBeNull();
  });

  test('SUCCEEDED and FAILED: the duration from the record start', () => {
    const ok = record();
    markSucceeded(ok, at(1800));
    expect(releaseEnded(ok)).toEqual({
      kind: 'ended',
      service: 'api',
      deploymentId: 'd-1',
      outcome: 'SUCCEEDED',
      durationSeconds: 1800,
    });
    const failed = record();
    markFailed(failed, at(12), 'no plan');
    expect(releaseEnded(failed)).toMatchObject({ outcome: 'FAILED', durationSeconds: 12 });
  });

  test.each<[string, string, TriggerKind, number]>([
    // The alarm decided at 1300 s, 300 s into staging; the rollback took 45 s.
    ['an alarm in staging', 'alarm:tps-api-errorRate', 'alarm', 300],
    ['a person', 'person:jane', 'person', 300],
    ['a stopped execution', EXECUTION_STOPPED_TRIGGERS.ABORTED, 'execution-stopped', 300],
  ])('ROLLED_BACK by %s: time to detect, to roll back, trigger kind and phase', (_n, trigger, kind, ttd) => {
    const r = withPhases();
    markRolledBack(r, { trigger, reason: 'x', phase: null, startedAt: at(1300), keptImages: null }, at(1345));
    expect(releaseEnded(r)).toEqual({
      kind: 'rolled-back',
      service: 'api',
      deploymentId: 'd-1',
      phase: 'staging',
      trigger: kind,
      timeToDetectSeconds: ttd,
      timeToRollBackSeconds: 45,
      durationSeconds: 1345,
    });
  });

  test('a rollback before any phase: phase `none`, detected from the release start', () => {
    const r = record();
    markRolledBack(
      r,
      { trigger: 'state-machine', reason: 'x', phase: null, startedAt: at(40), keptImages: null },
      at(50),
    );
    expect(releaseEnded(r)).toMatchObject({
      phase: 'none',
      timeToDetectSeconds: 40,
      timeToRollBackSeconds: 10,
    });
  });
});

describe('metric documents', () => {
  const rolledBack: ReleaseEvent = {
    kind: 'rolled-back',
    service: 'api',
    deploymentId: 'd-1',
    phase: 'canary',
    trigger: 'alarm',
    timeToDetectSeconds: 123.44,
    timeToRollBackSeconds: 20,
    durationSeconds: 700,
  };
  test.each<[string, ReleaseEvent, [Record<string, string>, [string, string, number][]][]]>([
    [
      'started',
      releaseStarted({ service: 'api', deploymentId: 'd-1' }),
      [[{ service: 'api' }, [[names.started, 'Count', 1]]]],
    ],
    [
      'succeeded',
      { kind: 'ended', service: 'api', deploymentId: 'd-1', outcome: 'SUCCEEDED', durationSeconds: 1800 },
      [
        [{ service: 'api' }, [[names.succeeded, 'Count', 1]]],
        [{ service: 'api', outcome: 'SUCCEEDED' }, [[names.duration, 'Seconds', 1800]]],
      ],
    ],
    [
      'failed',
      { kind: 'ended', service: 'api', deploymentId: 'd-1', outcome: 'FAILED', durationSeconds: 3 },
      [
        [{ service: 'api' }, [[names.failed, 'Count', 1]]],
        [{ service: 'api', outcome: 'FAILED' }, [[names.duration, 'Seconds', 3]]],
      ],
    ],
    [
      'rolled back: by service, and by service, phase and trigger',
      rolledBack,
      [
        [
          { service: 'api' },
          [
            [names.rolledBack, 'Count', 1],
            [names.timeToDetect, 'Seconds', 123.4],
            [names.timeToRollBack, 'Seconds', 20],
          ],
        ],
        [
          { service: 'api', phase: 'canary', trigger: 'alarm' },
          [
            [names.rolledBack, 'Count', 1],
            [names.timeToDetect, 'Seconds', 123.4],
            [names.timeToRollBack, 'Seconds', 20],
          ],
        ],
        [{ service: 'api', outcome: 'ROLLED_BACK' }, [[names.duration, 'Seconds', 700]]],
      ],
    ],
  ])('%s', (_name, event, expected) => {
    const docs = metricDocuments(event);
    expect(docs.map((d) => [d.dimensions, d.metrics.map((m) => [m.name, m.unit, m.value])])).toEqual(
      expected,
    );
    for (const d of docs) expect(d.metadata).toEqual({ deploymentId: 'd-1' });
  });

  test('the EMF adapter writes each document as one Embedded Metric Format line, nothing else', async () => {
    const lines: string[] = [];
    await new EmfReleaseTelemetry((l) => lines.push(l)).record(rolledBack);
    const docs = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(docs).toHaveLength(3);
    expect(docs[1]).toEqual({
      _aws: {
        Timestamp: expect.any(Number),
        CloudWatchMetrics: [
          {
            Namespace: namespace,
            Dimensions: [['service', 'phase', 'trigger']],
            Metrics: [
              { Name: names.rolledBack, Unit: 'Count' },
              { Name: names.timeToDetect, Unit: 'Seconds' },
              { Name: names.timeToRollBack, Unit: 'Seconds' },
            ],
          },
        ],
      },
      service: 'api',
      phase: 'canary',
      trigger: 'alarm',
      deploymentId: 'd-1',
      [names.rolledBack]: 1,
      [names.timeToDetect]: 123.4,
      [names.timeToRollBack]: 20,
    });
    // Nothing carried over from one document to the next (dimensions, metrics, metadata).
    expect(docs[2]).toEqual({
      _aws: {
        Timestamp: expect.any(Number),
        CloudWatchMetrics: [
          {
            Namespace: namespace,
            Dimensions: [['service', 'outcome']],
            Metrics: [{ Name: names.duration, Unit: 'Seconds' }],
          },
        ],
      },
      service: 'api',
      outcome: 'ROLLED_BACK',
      deploymentId: 'd-1',
      [names.duration]: 700,
    });
  });
});
