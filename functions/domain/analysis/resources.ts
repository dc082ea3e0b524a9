/**
 * The resources check: the canary's CPU, memory and disk utilisation below
 * `maxResourceUtilization`, where the metrics source measures them.
 */
import { CHECK_NAMES, type Context, finite, judged, missingData, type Outcome } from './check.js';
import { errorsNote, pct } from './format.js';

const RESOURCES = ['cpu', 'memory', 'disk'] as const;

/**
 * Canary CPU, memory and disk utilisation below `maxResourceUtilization`. Rules: any reported
 * value at or above the limit fails; a resource that is not reported while a measurement error
 * was recorded is inconclusive (the error may be why); when no query failed, an unreported
 * resource is one the source does not measure (e.g. no Container Insights): it is named in the
 * detail, and if none is reported the check is not judged. It never passes on nothing.
 */
export function checkResources(ctx: Context): Outcome {
  const name = CHECK_NAMES.resources;
  const limit = ctx.t.maxResourceUtilization;
  const c = ctx.canary;
  if (c === null) return missingData(name, 'no canary metrics', ctx, { value: null, threshold: limit });
  const reported = RESOURCES.flatMap((r) => {
    const v = finite(c[r]);
    return v === null ? [] : [{ r, v }];
  });
  const missing = RESOURCES.filter((r) => finite(c[r]) === null);
  const values = reported.map(({ r, v }) => `${r} ${pct(v)}`).join(', ');
  const notMeasured = missing.length > 0 ? `; not measured: ${missing.join(', ')}` : '';
  const worst = reported.reduce<number | null>((m, { v }) => (m === null || v > m ? v : m), null);
  const over = reported.filter(({ v }) => v >= limit);
  if (over.length > 0) {
    return judged(
      name,
      'fail',
      `canary ${values} (limit ${pct(limit)}): ${over.map(({ r }) => r).join(', ')} at or above the limit${notMeasured}`,
      `canary ${over.map(({ r, v }) => `${r} ${pct(v)}`).join(', ')} at or above the ${pct(limit)} limit`,
      { value: worst, threshold: limit },
    );
  }
  if (missing.length > 0 && ctx.measurementErrors.length > 0) {
    const problem = `canary ${missing.join(', ')} missing while queries failed`;
    return judged(
      name,
      'inconclusive',
      `${problem}${values ? `; ${values}` : ''}${errorsNote(ctx.measurementErrors)}`,
      problem,
      {
        value: worst,
        threshold: limit,
      },
    );
  }
  if (reported.length === 0) return { name, reason: 'the source reports no cpu, memory or disk' };
  return judged(name, 'pass', `canary ${values}, below the ${pct(limit)} limit${notMeasured}`, values, {
    value: worst,
    threshold: limit,
  });
}
