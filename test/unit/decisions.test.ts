/**
 * The release's decisions, table-driven: what a window's outcome means for the state machine and
 * what an alarm does. No cluster, no table.
 */
import {
  type AlarmFacts,
  composeWindowDecision,
  decideAlarm,
  rollbackScope,
  type WindowFacts,
} from '../../functions/domain/decisions.js';
import type { CheckResult, HoldState, Verdict } from '../../functions/domain/record.js';

const check = (name: string, verdict: Verdict, detail = `${name} ${verdict}`): CheckResult => ({
  name,
  verdict,
  detail,
});
const requested: HoldState = { requestedBy: 'alice', at: '2026-12-01T00:00:00.000Z' };
const decided: HoldState = {
  ...requested,
  decision: { decision: 'promoted', phase: 'canary', by: 'bob', at: '2026-12-01T00:10:00.000Z' },
};

function facts(over: Partial<Omit<WindowFacts, 'metrics'>> & { metrics?: Verdict }): WindowFacts {
  const { metrics, ...rest } = over;
  return {
    metrics: {
      verdict: metrics ?? 'pass',
      summary: 'metrics summary',
      checks: [check('error-rate', metrics ?? 'pass')],
    },
    pods: check('pods', 'pass'),
    tests: null,
    attempt: 0,
    maxExtensions: 1,
    hold: null,
    holdOnInconclusive: false,
    ...rest,
  };
}

describe('composeWindowDecision', () => {
  test.each([
    // name, facts, verdict, action, canExtend, closesPhase, hold
    ['metrics pass', facts({}), 'pass', 'proceed', false, true, null],
    ['metrics fail', facts({ metrics: 'fail' }), 'fail', 'rollBack', false, true, null],
    [
      'pods fail over passing metrics',
      facts({ pods: check('pods', 'fail', '1/2 ready') }),
      'fail',
      'rollBack',
      false,
      true,
      null,
    ],
    [
      'test Job fails over passing metrics',
      facts({ tests: check('tests', 'fail', 'job failed') }),
      'fail',
      'rollBack',
      false,
      true,
      null,
    ],
    ['test Job passes', facts({ tests: check('tests', 'pass') }), 'pass', 'proceed', false, true, null],
    [
      'inconclusive, an extension left',
      facts({ metrics: 'inconclusive' }),
      'inconclusive',
      'extend',
      true,
      false,
      null,
    ],
    [
      'inconclusive, extensions used',
      facts({ metrics: 'inconclusive', attempt: 1 }),
      'inconclusive',
      'failSafe',
      false,
      true,
      null,
    ],
    [
      'inconclusive, no extensions allowed',
      facts({ metrics: 'inconclusive', maxExtensions: 0 }),
      'inconclusive',
      'failSafe',
      false,
      true,
      null,
    ],
    [
      'inconclusive, extensions used, holdOnInconclusive',
      facts({ metrics: 'inconclusive', attempt: 1, holdOnInconclusive: true }),
      'inconclusive',
      'hold',
      false,
      true,
      'inconclusive',
    ],
    [
      'inconclusive with an extension left does not hold yet',
      facts({ metrics: 'inconclusive', holdOnInconclusive: true }),
      'inconclusive',
      'extend',
      true,
      false,
      null,
    ],
    ['pass with a requested hold', facts({ hold: requested }), 'pass', 'hold', false, true, 'requested'],
    ['pass with a hold already decided', facts({ hold: decided }), 'pass', 'proceed', false, true, null],
    [
      'fail with a requested hold still rolls back',
      facts({ metrics: 'fail', hold: requested }),
      'fail',
      'rollBack',
      false,
      true,
      null,
    ],
  ] as const)('%s', (_name, f, verdict, action, canExtend, closesPhase, hold) => {
    const d = composeWindowDecision(f);
    expect(d).toMatchObject({ verdict, action, canExtend, closesPhase, hold });
  });

  test('the summary names what failed first, then the metrics; checks keep pods, tests, metrics in order', () => {
    const d = composeWindowDecision(
      facts({ pods: check('pods', 'fail', '1/2 ready'), tests: check('tests', 'fail', 'job t failed') }),
    );
    expect(d.summary).toBe('new pods unhealthy (1/2 ready); job t failed; metrics summary');
    expect(d.checks.map((c) => c.name)).toEqual(['pods', 'tests', 'error-rate']);
  });
});

describe('decideAlarm', () => {
  const base: AlarmFacts = {
    alarmName: 'app-api-errorRate',
    state: 'ALARM',
    severity: 'critical',
    appName: 'app',
    active: { deploymentId: 'd-1', stage: 'releasing', since: '2026-12-01T10:00:00.000Z' },
    alreadyRolledBack: null,
    untouched: false,
    alarmAt: '2026-12-01T10:20:00.000Z',
  };
  test.each([
    ['OK state', { state: 'OK' }, { action: 'ignore', detail: 'app-api-errorRate is OK' }],
    ['INSUFFICIENT_DATA', { state: 'INSUFFICIENT_DATA' }, { action: 'ignore' }],
    [
      'not an app alarm',
      { severity: null },
      { action: 'ignore', detail: 'app-api-errorRate is not a app alarm' },
    ],
    ['critical during a release', {}, { action: 'roll-back', phase: null }],
    [
      'critical during the watch',
      { active: { deploymentId: 'd-1', stage: 'watching' } },
      { action: 'roll-back', phase: 'watch' },
    ],
    [
      'critical before the release touched the cluster',
      { untouched: true },
      { action: 'notify', why: 'release d-1 has not changed the cluster yet' },
    ],
    ['warning during a release', { severity: 'warning' }, { action: 'notify', why: 'severity warning' }],
    ['critical with nothing active', { active: null }, { action: 'notify', why: 'no deployment is active' }],
    [
      'warning with nothing active',
      { active: null, severity: 'warning' },
      { action: 'notify', why: 'no deployment is active' },
    ],
    [
      'redelivery of a state change that rolled d-0 back',
      { active: null, alreadyRolledBack: 'd-0' },
      { action: 'already-rolled-back', deploymentId: 'd-0' },
    ],
    [
      'a warning never counts as a duplicate rollback',
      { active: null, severity: 'warning', alreadyRolledBack: 'd-0' },
      { action: 'notify' },
    ],
  ] as const)('%s', (_name, over, expected) => {
    expect(decideAlarm({ ...base, ...(over as Partial<AlarmFacts>) })).toMatchObject(expected);
  });
});

describe('rollbackScope', () => {
  test.each([
    // release, lock holder, latest release, acts
    ['r1', 'r1', 'r1', true], // the release holds the service
    ['r1', null, 'r1', true], // a person takes the last release back
    ['r1', null, null, true],
    ['r1', 'r2', 'r2', false], // late: r2 is being released
    ['r1', 'r2', 'r1', false], // r2 holds the lock before its record is the latest
    ['r1', null, 'r2', false], // late: r2 came (and ended) after r1
  ] as const)('rollback of %s, lock %s, latest %s -> acts %s', (id, holder, latest, act) => {
    expect(rollbackScope(id, holder, latest).act).toBe(act);
  });
});
