/**
 * The stack's alarms rehearsed in local runs: the local CloudWatch evaluates every alarm of the
 * synthesized template once a virtual minute against the run's synthetic traffic, and each state
 * change goes as the "CloudWatch Alarm State Change" event through the synthesized rule's pattern
 * to the alarm function. A spike in the post-deployment watch rolls the release back by the alarm,
 * whenever in the watch it starts; a healthy release is watched to the end and stands down.
 */
import { afterAll, beforeAll, describe, expect, jest, test } from '@jest/globals';
import { PROFILE_DEFINITIONS, type TrafficProfileInput } from '../../functions/adapters/synthetic/index.js';
import { parseProfile } from '../../functions/adapters/synthetic/profile.js';
import { alarmName } from '../../functions/domain/alarms.js';
import { RUNBOOK } from '../../functions/domain/defaults.js';
import type { DeploymentRecord } from '../../functions/domain/record.js';
import { deleteNamespace } from '../helpers/k8s.js';
import { type ReleaseFixture, releaseFixture } from '../helpers/release.js';

jest.setTimeout(600_000);

const ERROR_RATE_ALARM = alarmName('tps-test', 'shop', 'errorRate');
const { canary, staging, production } = RUNBOOK.phases;
/** Seconds from the release start to the end of production's window: about where the watch starts. */
const RELEASE_END = canary.windowSeconds + staging.windowSeconds + production.windowSeconds;
/** Virtual seconds per real second: the hour's watch passes in well under a second of waiting. */
const SPEED = 20_000;

const INPUT = {
  service: 'shop',
  images: { api: 'registry.local/shop/api:v2', sidecar: 'registry.local/shop/proxy:1.1' },
  requestedBy: 'e2e',
  changeRef: 'CHG-11',
  attestations: { testsPassed: true, reviewers: ['alice', 'bob'] },
};

/** watch-spike with its 5% error spike moved to `onset` seconds after the release start. */
function spikeAt(onset: number): TrafficProfileInput {
  const def = PROFILE_DEFINITIONS['watch-spike'] as TrafficProfileInput;
  const stable = (def.versions as { stable: { errorRate: number } }).stable;
  return {
    ...def,
    name: `watch-spike-at-${onset}`,
    versions: {
      ...def.versions,
      canary: {
        ...(def.versions as { canary: Record<string, unknown> }).canary,
        errorRate: [
          { from: 0, value: stable.errorRate },
          { from: onset, value: 0.05 },
          { from: onset + 600, value: stable.errorRate },
        ],
      },
    },
  } as TrafficProfileInput;
}

let f: ReleaseFixture;
beforeAll(async () => {
  f = await releaseFixture('alarm-eval', 'replica-ratio', {
    service: {
      approval: false,
      onCall: {
        schedule: [
          {
            who: 'oncall@example.com',
            days: ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'],
            start: '00:00',
            end: '24:00',
          },
        ],
      },
    },
  });
});
afterAll(async () => {
  await f?.env.stop();
  if (f) await deleteNamespace(f.app.namespace);
});

const seconds = (record: DeploymentRecord, iso: string) =>
  (Date.parse(iso) - Date.parse(record.startedAt)) / 1000;

/** One release with `profile`; the record, the execution result and the alarm's state changes during it. */
async function release(name: string, profile: TrafficProfileInput) {
  f.env.setProfile('shop', parseProfile(profile));
  const from = f.env.cloudwatch.history.length;
  const result = await f.env.run(INPUT, { speed: SPEED, executionName: name });
  const changes = f.env.cloudwatch.history.slice(from).filter((c) => c.alarm === ERROR_RATE_ALARM);
  return { result, record: result.record!, changes };
}

describe('an error spike in the post-deployment watch', () => {
  test('watch-spike (the shipped profile) is rolled back by the error-rate alarm in the watch', async () => {
    const { result, record, changes } = await release(
      'spike-shipped',
      PROFILE_DEFINITIONS['watch-spike'] as TrafficProfileInput,
    );
    expect(result.status).toBe('ABORTED');
    expect(record.outcome).toBe('ROLLED_BACK');
    expect(record.rollback).toMatchObject({ trigger: `alarm:${ERROR_RATE_ALARM}`, phase: 'watch' });
    // Every validation window passed: the alarm, not a verdict, caught it.
    expect(record.phases.map((p) => `${p.name} ${p.verdict}`)).toEqual([
      'canary pass',
      'staging pass',
      'production pass',
    ]);
    const alarmed = changes.find((c) => c.to === 'ALARM');
    expect(alarmed).toBeDefined();
    // The event the function acted on is the one the evaluation sent: same reason and reasonData.
    expect(record.rollback?.alarm).toEqual({
      name: ERROR_RATE_ALARM,
      reason: alarmed!.reason,
      reasonData: (alarmed!.event.detail.state as { reasonData?: string }).reasonData,
    });
    const onset = RELEASE_END + 1800;
    const at = seconds(record, alarmed!.event.detail.state.timestamp.replace('+0000', 'Z'));
    // 2 of 2 minutes above 1%: the alarm needs the second full minute of the spike, at most 3 minutes.
    expect(at).toBeGreaterThan(onset + 60);
    expect(at).toBeLessThanOrEqual(onset + 180);
    expect(Date.parse(record.rollback!.startedAt)).toBeLessThan(Date.parse(record.watch!.until));
  });

  // Onsets relative to the release start: just after the watch starts, in its middle (not on a
  // minute), and in its last 10 minutes.
  test.each([RELEASE_END + 90, RELEASE_END + 1234, RELEASE_END + 3000])(
    'a spike starting %i s after the release start is rolled back by the alarm in the watch',
    async (onset) => {
      const { record, changes } = await release(`spike-at-${onset}`, spikeAt(onset));
      expect(seconds(record, record.watch!.startedAt)).toBeLessThan(onset);
      expect(record.outcome).toBe('ROLLED_BACK');
      expect(record.rollback).toMatchObject({ trigger: `alarm:${ERROR_RATE_ALARM}`, phase: 'watch' });
      const alarmed = changes.find((c) => c.to === 'ALARM')!;
      const at = seconds(record, alarmed.event.detail.state.timestamp.replace('+0000', 'Z'));
      expect(at).toBeGreaterThan(onset + 60);
      expect(at).toBeLessThanOrEqual(onset + 180);
      expect(Date.parse(record.rollback!.startedAt)).toBeLessThan(Date.parse(record.watch!.until));
    },
  );
});

test('the alarm beats the verdict: late-degradation (50% of traffic at 3% errors) is rolled back by the alarm during the staging window', async () => {
  const { result, record, changes } = await release(
    'late-race',
    PROFILE_DEFINITIONS['late-degradation'] as TrafficProfileInput,
  );
  expect(result.status).toBe('ABORTED');
  expect(record.rollback).toMatchObject({ trigger: `alarm:${ERROR_RATE_ALARM}`, phase: 'staging' });
  // Staging's window was never judged: the canary passed on its window, staging failed by the
  // alarm's rollback with no window decision.
  expect(record.phases.map((p) => [p.name, p.verdict, p.decisions.length])).toEqual([
    ['canary', 'pass', 1],
    ['staging', 'fail', 0],
  ]);
  const alarmed = changes.find((c) => c.to === 'ALARM')!;
  const at = seconds(record, alarmed.event.detail.state.timestamp.replace('+0000', 'Z'));
  const onset = canary.windowSeconds + Math.round((staging.windowSeconds * 2) / 3);
  expect(at).toBeGreaterThan(onset + 60);
  expect(at).toBeLessThan(canary.windowSeconds + staging.windowSeconds);
});

test('a healthy release is watched to the end by the evaluated alarms and stands down', async () => {
  const { result, record, changes } = await release(
    'healthy-watched',
    PROFILE_DEFINITIONS.healthy as TrafficProfileInput,
  );
  expect(result.status).toBe('SUCCEEDED');
  expect(record.outcome).toBe('SUCCEEDED');
  expect(record.watch?.standDownAt).not.toBeNull();
  expect(changes.filter((c) => c.to === 'ALARM')).toEqual([]);
  // Evaluated through the whole watch: its last evaluation is at the watch's end (to the minute).
  const status = f.env.cloudwatch.describe(ERROR_RATE_ALARM)!;
  expect(status.state).toBe('OK');
  const last = status.lastDatapoints[0]!.start.getTime() + 60_000;
  expect(Math.abs(last - Date.parse(record.watch!.until))).toBeLessThanOrEqual(60_000);
  // Every critical alarm of the service was evaluated and none is in ALARM.
  for (const signal of ['errorRate', 'latency', 'oomKills'] as const) {
    expect(f.env.cloudwatch.describe(alarmName('tps-test', 'shop', signal))?.state).toBe('OK');
  }
});
