/** The UTC time rules of the gates: ISO intervals, cron freeze windows, the weekly on-call schedule. */
import { parseCatalog } from '../../functions/domain/config.js';
import {
  activeCronWindow,
  cronMatches,
  onCallAt,
  parseCron,
  parseIsoInterval,
  type WeeklyShift,
} from '../../functions/domain/schedule.js';
import sample from '../../tps.config.js';
import { JOBS } from '../helpers/catalogs.js';

const at = (iso: string) => new Date(iso);

describe('ISO intervals', () => {
  test.each([
    ['2026-12-20T00:00:00Z/2027-01-04T00:00:00Z', true],
    ['2026-12-20T00:00Z/2026-12-20T00:01Z', true],
    ['2026-12-20T00:00:00.500Z/2026-12-21T00:00:00Z', true],
    ['2026-12-20T00:00:00+01:00/2027-01-04T00:00:00Z', false], // not UTC
    ['2026-12-20/2027-01-04', false], // dates only
    ['2027-01-04T00:00:00Z/2026-12-20T00:00:00Z', false], // backwards
    ['2026-12-20T00:00:00Z/2026-12-20T00:00:00Z', false], // empty
    ['2026-12-20T00:00:00Z', false],
    ['2026-13-20T00:00:00Z/2027-01-04T00:00:00Z', false], // month 13
  ])('%s valid: %s', (text, valid) => {
    expect(parseIsoInterval(text) !== null).toBe(valid);
  });
});

describe('cron', () => {
  test.each([
    // expression, time, matches
    ['0 17 * * FRI', '2026-11-20T17:00:00Z', true], // a Friday
    ['0 17 * * FRI', '2026-11-20T17:01:00Z', false],
    ['0 17 * * FRI', '2026-11-19T17:00:00Z', false], // Thursday
    ['0 17 * * 5', '2026-11-20T17:00:00Z', true],
    ['*/15 9-17 * * mon-fri', '2026-11-18T09:45:00Z', true],
    ['*/15 9-17 * * mon-fri', '2026-11-18T09:40:00Z', false],
    ['*/15 9-17 * * mon-fri', '2026-11-21T09:45:00Z', false], // Saturday
    ['0 0 24 12 *', '2026-12-24T00:00:00Z', true],
    ['0 0 24 dec *', '2026-12-24T00:00:00Z', true],
    ['0 0 1,15 * *', '2026-11-15T00:00:00Z', true],
    ['0 0 * * 7', '2026-11-22T00:00:00Z', true], // 7 = Sunday
    ['5/20 * * * *', '2026-11-18T10:45:00Z', true], // 5, 25, 45
    ['5/20 * * * *', '2026-11-18T10:50:00Z', false],
    // Both day fields restricted: either matches (Vixie cron).
    ['0 0 13 * FRI', '2026-11-13T00:00:00Z', true], // Friday the 13th
    ['0 0 13 * FRI', '2026-11-20T00:00:00Z', true], // a Friday
    ['0 0 13 * FRI', '2026-12-13T00:00:00Z', true], // the 13th (a Sunday)
    ['0 0 13 * FRI', '2026-12-14T00:00:00Z', false],
  ])('%s at %s: %s', (expr, time, matches) => {
    expect(cronMatches(parseCron(expr), at(time))).toBe(matches);
  });

  test.each([
    ['0 17 * *', /5 fields/],
    ['60 * * * *', /minute: 60 is outside 0-59/],
    ['0 24 * * *', /hour: 24 is outside 0-23/],
    ['0 0 * * funday', /day of week: "funday"/],
    ['0 0 5-1 * *', /runs backwards/],
    ['*/0 * * * *', /bad step/],
  ])('%s is refused naming the field', (expr, message) => {
    expect(() => parseCron(expr)).toThrow(message);
  });

  test('a weekend freeze (Friday 17:00 for 64 h) covers Saturday and Monday morning, not Monday 09:00', () => {
    const cron = parseCron('0 17 * * FRI');
    const weekend = 64 * 60;
    expect(activeCronWindow(cron, weekend, at('2026-11-20T16:59:59Z'))).toBeNull();
    const w = activeCronWindow(cron, weekend, at('2026-11-20T17:00:00Z'));
    expect(w).toEqual({ start: at('2026-11-20T17:00:00Z'), end: at('2026-11-23T09:00:00Z') });
    expect(activeCronWindow(cron, weekend, at('2026-11-22T12:00:00Z'))?.start).toEqual(
      at('2026-11-20T17:00:00Z'),
    );
    expect(activeCronWindow(cron, weekend, at('2026-11-23T08:59:30Z'))).not.toBeNull();
    expect(activeCronWindow(cron, weekend, at('2026-11-23T09:00:00Z'))).toBeNull();
    expect(activeCronWindow(cron, weekend, at('2026-11-25T12:00:00Z'))).toBeNull();
  });
});

describe('weekly on-call schedule (UTC)', () => {
  const schedule: WeeklyShift[] = [
    { who: 'alice', days: ['mon', 'tue', 'wed', 'thu', 'fri'], start: '08:00', end: '20:00' },
    // Overnight: starts on the listed day, ends the next morning.
    { who: 'bob', days: ['mon', 'tue', 'wed', 'thu', 'fri'], start: '20:00', end: '08:00' },
    { who: 'carol', days: ['sat', 'sun'], start: '00:00', end: '24:00' },
  ];
  test.each([
    ['2026-11-18T12:00:00Z', ['alice']], // Wednesday noon
    ['2026-11-18T20:00:00Z', ['bob']],
    ['2026-11-19T03:00:00Z', ['bob']], // Thursday 03:00: Wednesday's night shift
    ['2026-11-16T03:00:00Z', []], // Monday 03:00: Sunday has no night shift, carol's Sunday ended
    ['2026-11-21T03:00:00Z', ['bob', 'carol']], // Saturday 03:00: Friday's night shift + carol
    ['2026-11-22T23:59:00Z', ['carol']],
    ['2026-11-20T07:59:00Z', ['bob']],
    ['2026-11-20T08:00:00Z', ['alice']],
  ])('at %s: %j', (time, who) => {
    expect(onCallAt(schedule, at(time))).toEqual(who);
  });
});

describe('catalog fields of the gates', () => {
  const base = sample.services.api!;
  const parse = (extra: Record<string, unknown>) =>
    parseCatalog({ ...sample, services: { api: { ...base, ...extra } } });

  test('freeze windows, on-call, tests and databases are accepted', () => {
    const c = parse({
      approval: false,
      approvalTimeoutSeconds: 600,
      holdOnInconclusive: true,
      freezeWindows: [
        { name: 'year end', interval: '2026-12-20T00:00:00Z/2027-01-04T00:00:00Z' },
        { name: 'weekend', cron: '0 17 * * FRI', durationMinutes: 3840, allowHotfix: false },
      ],
      onCall: { url: 'https://oncall.example.com/api/now' },
      jobs: JOBS,
      tests: {
        canary: { image: 'registry.local/smoke:v1', command: ['smoke', '--fast'], env: { TARGET: 'api' } },
      },
      databases: [{ kind: 'aurora-cluster', identifier: 'shop-db' }],
    });
    expect(c.services.api!.freezeWindows).toHaveLength(2);
  });

  test('a test image needs a tag or digest, like a release image; each bad one is named', () => {
    expect(() =>
      parse({
        jobs: { ...JOBS, allowedImages: ['registry.local:5000/team/*', 'docker.io/library/smoke'] },
        tests: {
          canary: { image: 'registry.local:5000/team/smoke:1.2.3' },
          staging: { image: `smoke@sha256:${'a'.repeat(64)}` },
        },
      }),
    ).not.toThrow();
    let message = '';
    try {
      parse({ jobs: JOBS, tests: { canary: { image: 'smoke' }, production: { image: 'Smoke:UPPER case' } } });
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toContain('services.api.tests.canary.image');
    expect(message).toContain('services.api.tests.production.image');
    expect(message).toContain('tag or digest');
  });

  test('bad fields are named: malformed interval, bad cron, bad HH:MM, non-HTTP on-call URL', () => {
    let message = '';
    try {
      parse({
        freezeWindows: [
          { name: 'a', interval: '2027-01-04T00:00:00Z/2026-12-20T00:00:00Z' },
          { name: 'b', cron: '0 25 * * *', durationMinutes: 60 },
        ],
        onCall: { schedule: [{ who: 'x', days: ['mon'], start: '8:00', end: '25:00' }] },
      });
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toMatch(/freezeWindows\.0/);
    expect(message).toMatch(/freezeWindows\.1/);
    expect(message).toMatch(/onCall/);
    expect(() => parse({ onCall: { url: 'ftp://example.com/oncall' } })).toThrow(/onCall/);
  });
});
