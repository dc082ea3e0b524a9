/**
 * The traffic-profile format: what synthetic traffic looks like, per version, as piecewise
 * functions of virtual seconds since the deployment started. Documented in
 * docs/traffic-profiles.md; the shipped profiles are in ./profiles.ts.
 */
import { z } from 'zod';
import { toFieldIssues } from '../../domain/config.js';
import { RUNBOOK } from '../../domain/defaults.js';
import { ConfigError, type FieldIssue } from '../../domain/errors.js';

/** One step of a piecewise-constant function: `value` from `from` seconds on. */
export interface Segment<T> {
  /** Seconds since the deployment started; negative for the time before it. */
  readonly from: number;
  readonly value: T;
}

/** Checks that segment starts strictly increase, naming the first offending segment. */
function increasing(segments: readonly { from: number }[], ctx: z.RefinementCtx): void {
  for (let i = 1; i < segments.length; i++) {
    if ((segments[i]?.from ?? 0) <= (segments[i - 1]?.from ?? 0)) {
      ctx.addIssue({
        code: 'custom',
        path: [i, 'from'],
        message: `segments must start in increasing order (${segments[i]?.from} after ${segments[i - 1]?.from})`,
      });
    }
  }
}

/** A bare value means "this value all the time". */
function constantToSegments(input: unknown): unknown {
  return typeof input === 'number' ? [{ from: 0, value: input }] : input;
}

/** A piecewise-constant number: a constant, or `[{ from, value }, ...]` with increasing `from`. */
function piecewise(value: z.ZodNumber) {
  return z.preprocess(
    constantToSegments,
    z
      .array(z.object({ from: z.number(), value }).strict())
      .min(1, 'needs at least one segment')
      .superRefine(increasing),
  );
}

const latencySegment = z
  .object({
    from: z.number().default(0),
    /** Median latency (ms). */
    p50Ms: z.number().positive(),
    /** 99th percentile latency (ms); at least the median. */
    p99Ms: z.number().positive(),
  })
  .strict()
  .superRefine((s, ctx) => {
    if (s.p99Ms < s.p50Ms) {
      ctx.addIssue({
        code: 'custom',
        path: ['p99Ms'],
        message: `p99Ms (${s.p99Ms}) must be at least p50Ms (${s.p50Ms})`,
      });
    }
  });

const ratio = z.number().min(0).max(1);

const versionSchema = z
  .object({
    /**
     * Share of the requests routed to this version that reach it and are counted, 0..1. Below 1
     * models requests lost before the version counts them (its pods dropping connections, its
     * clients giving up): a drop of this version's traffic alone, the other version untouched.
     */
    served: piecewise(ratio).default([{ from: 0, value: 1 }]),
    /** Share of this version's requests that fail, 0..1. */
    errorRate: piecewise(ratio),
    /**
     * Latency as a log-normal distribution given by its median and p99: one `{ p50Ms, p99Ms }`
     * or segments `[{ from, p50Ms, p99Ms }, ...]`.
     */
    latency: z.preprocess(
      (input) => (input !== null && typeof input === 'object' && !Array.isArray(input) ? [input] : input),
      z.array(latencySegment).min(1, 'needs at least one segment').superRefine(increasing),
    ),
    /**
     * Utilisation of the version's pods, 0..1. A resource left out is not reported (the source
     * returns null for it, as CloudWatch does without Container Insights).
     */
    resources: z
      .object({
        cpu: piecewise(ratio).optional(),
        memory: piecewise(ratio).optional(),
        disk: piecewise(ratio).optional(),
      })
      .strict()
      .default({}),
  })
  .strict();

/**
 * Period-to-period noise. The rps, error-rate and latency factors are drawn once per period for
 * the whole service, so both versions share them (a dip or a flaky dependency hits both);
 * versions then differ by what the profile says and by sampling.
 */
const noiseSchema = z
  .object({
    /** Relative standard deviation of the service's request rate. */
    rps: z.number().min(0).max(1).default(0),
    /** Relative standard deviation of the error rates. */
    errorRate: z.number().min(0).max(5).default(0),
    /** Standard deviation of log-latency (0.1 is about ±10 %). */
    latency: z.number().min(0).max(2).default(0),
    /** Absolute standard deviation of resource utilisation, drawn per version. */
    resources: z.number().min(0).max(0.5).default(0),
  })
  .strict();

/**
 * The canary's share of traffic (percent) over time when the source is not told the real weights:
 * the runbook's phases back to back with no readiness wait and no extension.
 */
export const RUNBOOK_WEIGHT_SCHEDULE: readonly Segment<number>[] = [
  { from: 0, value: RUNBOOK.phases.canary.weight },
  { from: RUNBOOK.phases.canary.windowSeconds, value: RUNBOOK.phases.staging.weight },
  {
    from: RUNBOOK.phases.canary.windowSeconds + RUNBOOK.phases.staging.windowSeconds,
    value: RUNBOOK.phases.production.weight,
  },
];

const profileSchema = z
  .object({
    /** Profile name (file profiles default to the file name). */
    name: z.string().min(1),
    /** What the profile shows and what the pipeline should do with it. */
    description: z.string().default(''),
    /** Seed of every random draw: the same seed gives the same numbers. */
    seed: z.number().int().min(0).max(0xffffffff),
    /** Length of one metrics period (s), as CloudWatch's period. */
    periodSeconds: z.number().int().min(1).max(3600).default(60),
    /** Requests per second of the whole service (both versions together). */
    rps: piecewise(z.number().min(0)),
    /**
     * Percent of traffic the canary gets over time, used when the source is not given the real
     * weights. Default: {@link RUNBOOK_WEIGHT_SCHEDULE}. The canary gets nothing before 0 s.
     */
    canaryWeight: piecewise(z.number().min(0).max(100)).optional(),
    noise: noiseSchema.default({ rps: 0, errorRate: 0, latency: 0, resources: 0 }),
    versions: z.object({ stable: versionSchema, canary: versionSchema }).strict(),
  })
  .strict();

/** A traffic profile as written (constants allowed where segments are, defaults omitted). */
export type TrafficProfileInput = z.input<typeof profileSchema>;
/** A parsed traffic profile: every piecewise value is a list of segments. */
export type TrafficProfile = z.output<typeof profileSchema>;
/** One version's behaviour in a parsed profile. */
export type VersionProfile = TrafficProfile['versions']['stable'];
/** One latency segment of a parsed profile. */
export type LatencySegment = VersionProfile['latency'][number];

/**
 * Parses and checks a traffic profile. Throws {@link ConfigError} whose message and `issues`
 * name every bad field (dotted paths such as `versions.canary.latency.0.p99Ms`).
 */
export function parseProfile(input: unknown, source = 'traffic profile'): TrafficProfile {
  const parsed = profileSchema.safeParse(input);
  if (!parsed.success) {
    const issues: FieldIssue[] = toFieldIssues(parsed.error);
    throw new ConfigError(
      `invalid ${source}: ${issues.map((i) => `${i.path || '(root)'}: ${i.message}`).join('; ')}`,
      issues,
    );
  }
  return parsed.data;
}

/** Value of a piecewise function at `t`: the last segment starting at or before `t`, else the first. */
export function valueAt<S extends { readonly from: number }>(segments: readonly S[], t: number): S {
  let current = segments[0] as S;
  for (const s of segments) {
    if (s.from <= t) current = s;
    else break;
  }
  return current;
}
