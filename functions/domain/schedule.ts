/**
 * Time rules of the pre-deployment gates, all in UTC (no time zones, so a rule means the same in
 * every region and on every laptop): change-freeze windows written as ISO 8601 intervals or as a
 * five-field cron expression with a duration, and a weekly on-call schedule. Pure functions.
 */
import { ConfigError } from './errors.js';

/** Day names as the schedules spell them; index = `Date.getUTCDay()`. */
export const WEEKDAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const;
export type Weekday = (typeof WEEKDAYS)[number];

// ---- ISO intervals --------------------------------------------------------------------------

/** `start/end`, both full ISO 8601 date-times in UTC (`Z`), end after start. */
export interface IsoInterval {
  readonly start: Date;
  readonly end: Date;
}

const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?Z$/;

/** Parses `2026-12-20T00:00:00Z/2027-01-04T00:00:00Z`; null (with nothing thrown) when malformed. */
export function parseIsoInterval(text: string): IsoInterval | null {
  const parts = text.split('/');
  if (parts.length !== 2) return null;
  const [a, b] = parts as [string, string];
  if (!ISO_UTC.test(a) || !ISO_UTC.test(b)) return null;
  const start = new Date(a);
  const end = new Date(b);
  if (Number.isNaN(start.getTime()) || Number.isNaN(end.getTime()) || end <= start) return null;
  return { start, end };
}

// ---- cron -------------------------------------------------------------------------------------

/** A parsed five-field cron expression: the allowed values of each field. */
export interface CronSchedule {
  readonly minutes: ReadonlySet<number>;
  readonly hours: ReadonlySet<number>;
  readonly daysOfMonth: ReadonlySet<number>;
  readonly months: ReadonlySet<number>;
  readonly daysOfWeek: ReadonlySet<number>;
  /** Both day fields restricted: cron matches either (Vixie cron semantics). */
  readonly dayOr: boolean;
}

const MONTH_NAMES = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];

interface FieldDef {
  readonly name: string;
  readonly min: number;
  readonly max: number;
  readonly names?: readonly string[];
  /** Offset of names[0] (months start at 1). */
  readonly nameBase?: number;
}

const FIELDS: readonly FieldDef[] = [
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day of month', min: 1, max: 31 },
  { name: 'month', min: 1, max: 12, names: MONTH_NAMES, nameBase: 1 },
  // 7 is Sunday too, as in most crons.
  { name: 'day of week', min: 0, max: 7, names: WEEKDAYS, nameBase: 0 },
];

function fieldValue(raw: string, def: FieldDef): number {
  const lower = raw.toLowerCase();
  const named = def.names?.indexOf(lower) ?? -1;
  if (named >= 0) return named + (def.nameBase ?? 0);
  if (!/^\d+$/.test(raw)) throw new ConfigError(`${def.name}: "${raw}" is not a number or name`);
  const n = Number(raw);
  if (n < def.min || n > def.max) throw new ConfigError(`${def.name}: ${n} is outside ${def.min}-${def.max}`);
  return n;
}

function parseField(text: string, def: FieldDef): { values: Set<number>; star: boolean } {
  const values = new Set<number>();
  let star = false;
  for (const part of text.split(',')) {
    const [range, stepText] = part.split('/') as [string, string | undefined];
    const step = stepText === undefined ? 1 : Number(stepText);
    if (!Number.isInteger(step) || step < 1) throw new ConfigError(`${def.name}: bad step "${stepText}"`);
    let lo: number;
    let hi: number;
    if (range === '*') {
      lo = def.min;
      hi = def.max;
      if (stepText === undefined) star = true;
    } else if (range.includes('-')) {
      const [a, b] = range.split('-') as [string, string];
      lo = fieldValue(a, def);
      hi = fieldValue(b, def);
      if (hi < lo) throw new ConfigError(`${def.name}: range ${range} runs backwards`);
    } else {
      lo = fieldValue(range, def);
      hi = stepText === undefined ? lo : def.max;
    }
    for (let v = lo; v <= hi; v += step) values.add(v);
  }
  return { values, star };
}

/**
 * Parses `minute hour day-of-month month day-of-week` (`*`, numbers, names such as `FRI` and
 * `DEC`, lists, ranges and steps), e.g. `0 17 * * FRI`. Throws a ConfigError naming the bad field.
 */
export function parseCron(expression: string): CronSchedule {
  const fields = expression.trim().split(/\s+/);
  if (fields.length !== 5) {
    throw new ConfigError(
      `cron "${expression}" must have 5 fields (minute hour day-of-month month day-of-week)`,
    );
  }
  const parsed = fields.map((f, i) => parseField(f, FIELDS[i]!));
  const dow = parsed[4]!.values;
  if (dow.has(7)) {
    dow.delete(7);
    dow.add(0);
  }
  return {
    minutes: parsed[0]!.values,
    hours: parsed[1]!.values,
    daysOfMonth: parsed[2]!.values,
    months: parsed[3]!.values,
    daysOfWeek: dow,
    dayOr: !parsed[2]!.star && !parsed[4]!.star,
  };
}

/** Whether the minute starting at `t` (UTC) is one the schedule fires at. */
export function cronMatches(cron: CronSchedule, t: Date): boolean {
  if (!cron.minutes.has(t.getUTCMinutes()) || !cron.hours.has(t.getUTCHours())) return false;
  if (!cron.months.has(t.getUTCMonth() + 1)) return false;
  const dom = cron.daysOfMonth.has(t.getUTCDate());
  const dow = cron.daysOfWeek.has(t.getUTCDay());
  return cron.dayOr ? dom || dow : dom && dow;
}

/**
 * The latest start of a `cron` window of `durationMinutes` that still covers `now`, or null when
 * `now` is outside every window. Walks back minute by minute over at most the duration (a month
 * is 44 640 steps: cheap).
 */
export function activeCronWindow(cron: CronSchedule, durationMinutes: number, now: Date): IsoInterval | null {
  const minute = Math.floor(now.getTime() / 60_000) * 60_000;
  for (let i = 0; i < durationMinutes; i++) {
    const start = new Date(minute - i * 60_000);
    if (cronMatches(cron, start)) {
      const end = new Date(start.getTime() + durationMinutes * 60_000);
      if (end > now) return { start, end };
    }
  }
  return null;
}

// ---- weekly on-call schedule --------------------------------------------------------------------

/** One recurring shift: on each of `days`, from `start` to `end` (HH:MM, UTC). */
export interface WeeklyShift {
  readonly who: string;
  readonly days: readonly Weekday[];
  /** `HH:MM`. */
  readonly start: string;
  /** `HH:MM`; `24:00` is midnight at the end of the day; at or before `start` runs into the next day. */
  readonly end: string;
}

function minutesOf(hhmm: string): number {
  const [h, m] = hhmm.split(':').map(Number) as [number, number];
  return h * 60 + m;
}

/**
 * Who is on call at `now` by the weekly schedule (every matching shift, in schedule order).
 * A shift whose end is not after its start runs overnight into the next day.
 */
export function onCallAt(schedule: readonly WeeklyShift[], now: Date): string[] {
  const day = now.getUTCDay();
  const minute = now.getUTCHours() * 60 + now.getUTCMinutes();
  const who: string[] = [];
  for (const shift of schedule) {
    const start = minutesOf(shift.start);
    const end = minutesOf(shift.end);
    const days = new Set(shift.days.map((d) => WEEKDAYS.indexOf(d)));
    const overnight = end <= start;
    const today = days.has(day) && minute >= start && (overnight || minute < end);
    const fromYesterday = overnight && days.has((day + 6) % 7) && minute < end;
    if ((today || fromYesterday) && !who.includes(shift.who)) who.push(shift.who);
  }
  return who;
}
