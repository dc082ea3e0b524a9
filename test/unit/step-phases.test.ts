/**
 * Step drops and dips through whole releases: the real synthetic source and the real window
 * judgment along the runbook's phases as the state machine runs them (shift, 6 s until the new
 * pods are Ready, the window, an extension for an inconclusive verdict, fail safe when none is
 * left), with the phases' weights held as the release really set them. Each drop must be caught
 * in the phase where it starts; no dip of both versions may fail a phase.
 */
import {
  PROFILE_DEFINITIONS,
  PROFILE_SLO_P99_MS,
  parseProfile,
  SyntheticMetricsSource,
  type TrafficProfile,
  type TrafficProfileInput,
} from '../../functions/adapters/synthetic/index.js';
import { CHECK_NAMES, judgeWindow } from '../../functions/domain/analysis.js';
import { PHASE_NAMES, type PhaseName, RUNBOOK } from '../../functions/domain/defaults.js';
import type { Verdict } from '../../functions/domain/record.js';
import type { MetricsQuery } from '../../functions/ports/metrics.js';

const START = new Date('2026-11-02T10:00:00.000Z');
const at = (s: number) => new Date(START.getTime() + s * 1000);
const query = (from: number, to: number, same = false): MetricsQuery => ({
  service: 'api',
  start: at(from),
  end: at(to),
  canaryVersion: same ? 'v1' : 'v2',
  stableVersion: 'v1',
});
const THRESHOLDS = { ...RUNBOOK.validation, sloP99Ms: PROFILE_SLO_P99_MS };
/** Seconds from a shift until the new pods are Ready and the window starts. */
const READY_SECONDS = 6;

interface PhaseRun {
  readonly phase: PhaseName;
  /** When traffic shifted to this phase's weight, and when its last window ended. */
  readonly shiftAt: number;
  readonly end: number;
  readonly verdicts: Verdict[];
  readonly summaries: string[];
  /** The `throughput` check (the window's average) of the first window. */
  readonly firstAverage: Verdict | undefined;
}

interface Release {
  readonly failedIn: PhaseName | null;
  readonly phases: readonly PhaseRun[];
}

/** One release along the runbook's default phases, judged as the state machine judges it. */
async function release(profile: TrafficProfile): Promise<Release> {
  const weights: { from: number; weight: number }[] = [];
  const weightAt = (d: Date): number | null => {
    const t = (d.getTime() - START.getTime()) / 1000;
    return [...weights].reverse().find((w) => w.from <= t)?.weight ?? null;
  };
  const b = await new SyntheticMetricsSource({ profile, deploymentStart: START }).window(
    query(-900, 0, true),
  );
  const baseline = { rps: b.stable?.rps ?? null, p99Ms: b.stable?.p99Ms ?? null };
  const phases: PhaseRun[] = [];
  let t = 0;
  for (const phase of PHASE_NAMES) {
    const cfg = RUNBOOK.phases[phase];
    weights.push({ from: t, weight: cfg.weight });
    const windowStart = t + READY_SECONDS;
    const run = {
      phase,
      shiftAt: t,
      end: windowStart + cfg.windowSeconds,
      verdicts: [] as Verdict[],
      summaries: [] as string[],
      firstAverage: undefined as Verdict | undefined,
    };
    phases.push(run);
    for (let attempt = 0; ; attempt++) {
      const source = new SyntheticMetricsSource({ profile, deploymentStart: START, weightAt });
      const judged = judgeWindow({
        phase,
        attempt,
        start: at(windowStart),
        end: at(run.end),
        metrics: await source.window(query(windowStart, run.end)),
        thresholds: THRESHOLDS,
        baseline,
        traffic: { targetWeight: cfg.weight, actualWeight: cfg.weight },
        maxExtensions: cfg.extensions,
      });
      run.verdicts.push(judged.verdict);
      run.summaries.push(judged.summary);
      run.firstAverage ??= judged.checks.find((c) => c.name === CHECK_NAMES.throughput)?.verdict;
      if (judged.verdict === 'fail' || (judged.verdict === 'inconclusive' && !judged.canExtend)) {
        return { failedIn: phase, phases };
      }
      if (judged.verdict === 'pass') break;
      run.end += cfg.extendedWindowSeconds;
    }
    t = run.end;
  }
  return { failedIn: null, phases };
}

/** The phase whose traffic was live at `t` seconds. */
function phaseAt(r: Release, t: number): PhaseName | null {
  return r.phases.find((p) => p.shiftAt <= t && t < p.end)?.phase ?? null;
}

/** Where a phase's (first) window is in the nominal timeline, with no extension before it. */
function nominalWindow(phase: PhaseName): { start: number; end: number } {
  let t = 0;
  for (const p of PHASE_NAMES) {
    const start = t + READY_SECONDS;
    const end = start + RUNBOOK.phases[p].windowSeconds;
    if (p === phase) return { start, end };
    t = end;
  }
  throw new Error(phase);
}

/** A point `fraction` of the way into a phase's window. */
function into(phase: PhaseName, fraction: number): number {
  const w = nominalWindow(phase);
  return Math.round(w.start + fraction * (w.end - w.start));
}

const QUIET = PROFILE_DEFINITIONS.healthy;
const NOISY = { rps: 0.15, errorRate: 0.6, latency: 0.12, resources: 0.04 };

function profile(
  name: string,
  seed: number,
  noisy: boolean,
  over: Partial<TrafficProfileInput>,
): TrafficProfile {
  return parseProfile({ ...QUIET, name, seed, ...(noisy ? { noise: NOISY } : {}), ...over });
}

/** Both versions' traffic drops by `size` at `from` and stays there. */
function stepOfBoth(seed: number, noisy: boolean, from: number, size: number): TrafficProfile {
  return profile('step', seed, noisy, {
    rps: [
      { from: -86_400, value: 200 },
      { from, value: 200 * (1 - size) },
    ],
  });
}

/** The canary alone counts `1 - size` of the requests routed to it from `from` on. */
function canaryLoss(seed: number, noisy: boolean, from: number, size: number): TrafficProfile {
  return profile('canary-loss', seed, noisy, {
    versions: {
      stable: QUIET.versions.stable,
      canary: {
        ...QUIET.versions.canary,
        served: [
          { from: 0, value: 1 },
          { from, value: 1 - size },
        ],
      },
    },
  });
}

/** Both versions' traffic dips by `size` for `seconds` from `from`, then comes back. */
function dipOfBoth(
  seed: number,
  noisy: boolean,
  from: number,
  seconds: number,
  size: number,
): TrafficProfile {
  return profile('dip', seed, noisy, {
    rps: [
      { from: -86_400, value: 200 },
      { from, value: 200 * (1 - size) },
      { from: from + seconds, value: 200 },
    ],
  });
}

type Where = [PhaseName, number];
const describeWhere = ([phase, f]: Where) => `${Math.round(f * 100)}% into the ${phase} window`;

/**
 * Where drops start. A step is seen once two whole metrics periods at a window's end show it, so
 * these start at least 2 minutes (plus the window's partial last period) before a window ends:
 * 75% into the canary window is 150 s before its end, 80% into staging 180 s, 40% into
 * production 180 s (production has no extension, so it needs all 3 periods of a sustained step).
 */
const BOTH_STARTS: Where[] = [
  ['canary', 0.1],
  ['canary', 0.5],
  ['canary', 0.75],
  ['staging', 0.1],
  ['staging', 0.5],
  ['staging', 0.8],
  ['production', 0.1],
  ['production', 0.4],
];
/** A canary-only drop needs a whole period before it to compare with, so none at a window's very start. */
const CANARY_STARTS: Where[] = [
  ['canary', 0.25],
  ['canary', 0.5],
  ['canary', 0.75],
  ['staging', 0.25],
  ['staging', 0.5],
  ['staging', 0.8],
];

/** Every size at every start, quiet or noisy; each case its own seed. */
function cases(sizes: number[], starts: Where[], noisy: boolean): [number, Where, boolean, number][] {
  return sizes.flatMap((size, i) =>
    starts.map((where, j): [number, Where, boolean, number] => [
      size,
      where,
      noisy,
      100 * i + 10 * j + (noisy ? 5 : 0),
    ]),
  );
}

describe('a step drop of both versions is caught in the phase where it starts', () => {
  test.each([...cases([0.35, 0.5, 0.8, 1], BOTH_STARTS, false), ...cases([0.5, 0.8], BOTH_STARTS, true)])(
    '-%p %#: starting %p, noisy %p (seed %p)',
    async (size, where, noisy, seed) => {
      const from = into(...where);
      const r = await release(stepOfBoth(seed + 1, noisy, from, size));
      expect({ where: describeWhere(where), failedIn: r.failedIn }).toEqual({
        where: describeWhere(where),
        failedIn: phaseAt(r, from),
      });
    },
  );

  test.each<[Where, Verdict[]]>([
    [
      ['canary', 0.5],
      ['inconclusive', 'fail'],
    ],
    [
      ['canary', 0.75],
      ['inconclusive', 'fail'],
    ],
    [
      ['staging', 0.8],
      ['inconclusive', 'fail'],
    ],
  ])(
    'a -45%% step %p: the window average passes, the last periods extend the window, the extension fails',
    async (where, verdicts) => {
      const r = await release(stepOfBoth(7, false, into(...where), 0.45));
      const phase = r.phases.find((p) => p.phase === where[0])!;
      expect(phase.firstAverage).toBe('pass');
      expect(phase.verdicts).toEqual(verdicts);
      expect(phase.summaries[0]).toMatch(
        /inconclusive: total throughput below the band for the last \d periods/,
      );
      expect(phase.summaries[1]).toMatch(
        /total throughput below the band for the last \d+ periods \(0\.5\dx baseline\), a sustained step \(3 periods\) the window's average hides|outside 0\.7x-1\.5x/,
      );
    },
  );
});

describe('a drop of the canary alone is caught in the phase where it starts', () => {
  test.each([...cases([0.4, 0.6, 1], CANARY_STARTS, false), ...cases([0.6], CANARY_STARTS, true)])(
    '-%p %#: starting %p, noisy %p (seed %p)',
    async (size, where, noisy, seed) => {
      const from = into(...where);
      const r = await release(canaryLoss(seed + 1, noisy, from, size));
      expect({ where: describeWhere(where), failedIn: r.failedIn }).toEqual({
        where: describeWhere(where),
        failedIn: phaseAt(r, from),
      });
      const phase = r.phases.find((p) => p.phase === r.failedIn)!;
      expect(phase.summaries.at(-1)).toMatch(/the canary's traffic fell to 0(\.\d+)?x stable's ratio/);
    },
  );
});

describe('a dip of both versions never fails a phase', () => {
  const dips: [string, number, number, number, boolean][] = [];
  for (const phase of ['canary', 'staging'] as const) {
    const w = nominalWindow(phase);
    for (const seconds of [60, 120, 180, 300]) {
      for (const [size, noisy] of [
        [0.3, false],
        [0.5, false],
        [0.3, true],
      ] as const) {
        dips.push([`${phase} middle`, (w.start + w.end - seconds) / 2, seconds, size, noisy]);
        // Through the window's last minutes: the extension must see it end.
        dips.push([`${phase} end`, w.end - seconds, seconds, size, noisy]);
      }
    }
  }

  test.each(dips.map((d, i) => [...d, 500 + i] as const))(
    '%s: %p s from %p s, -%p, noisy %p (seed %p)',
    async (_where, from, seconds, size, noisy, seed) => {
      const r = await release(dipOfBoth(seed, noisy, from, seconds, size));
      expect(r.phases.map((p) => [p.phase, p.verdicts])).toEqual(
        PHASE_NAMES.map((p) => [p, expect.not.arrayContaining(['fail'])]),
      );
      expect(r.failedIn).toBeNull();
    },
  );

  test('a dip through the end of a window extends it, and the extended window passes once the dip is over', async () => {
    const w = nominalWindow('canary');
    const r = await release(dipOfBoth(3, false, w.end - 240, 240, 0.5));
    expect(r.phases[0]?.verdicts).toEqual(['inconclusive', 'pass']);
    expect(r.phases[0]?.summaries[0]).toMatch(/total throughput below the band for the last 4 periods/);
    expect(r.failedIn).toBeNull();
  });
});
