/**
 * The throughput check: total requests per second (canary + stable) within `throughputBand` of
 * the pre-deployment baseline, so a release that loses (or multiplies) traffic is caught.
 */
import type { VersionSeries } from '../../ports/metrics.js';
import {
  CHECK_NAMES,
  type Context,
  finite,
  judged,
  missingData,
  type Outcome,
  stableTakesNoTraffic,
} from './check.js';
import { pct, rpsText, times } from './format.js';

/** Requests per second of a version: as reported, else counted over the window. */
function rpsOf(v: VersionSeries | null, windowSeconds: number | null): number | null {
  if (v === null) return null;
  const reported = finite(v.rps);
  if (reported !== null && reported >= 0) return reported;
  const requests = finite(v.requests);
  if (requests === null || requests < 0 || windowSeconds === null || windowSeconds <= 0) return null;
  return requests / windowSeconds;
}

/**
 * Total throughput (canary + stable rps) within `throughputBand` of the baseline rps. Without a
 * usable baseline (none captured, its rps missing, or 0 rps so no ratio) the check is not judged
 * and the reason is named in the summary: the baseline is measured once before the release, so
 * extending the window can never supply it, and an inconclusive verdict would only turn a missing
 * pre-deployment number into a certain rollback. A version whose current rps is missing is
 * inconclusive (more data can fix that). At 100 % a stable version with no metrics counts as 0 rps.
 */
export function checkThroughput(ctx: Context): Outcome {
  const name = CHECK_NAMES.throughput;
  const { min, max } = ctx.t.throughputBand;
  if (ctx.baseline === null) return { name, reason: 'no pre-deployment baseline' };
  const base = finite(ctx.baseline.rps);
  if (base === null) return { name, reason: 'the pre-deployment baseline has no rps' };
  if (base <= 0) return { name, reason: 'the pre-deployment baseline was 0 rps, no ratio' };
  const canaryRps = rpsOf(ctx.canary, ctx.windowSeconds);
  const stableRps = rpsOf(ctx.stable, ctx.windowSeconds) ?? (stableTakesNoTraffic(ctx) ? 0 : null);
  if (canaryRps === null || stableRps === null) {
    const problem = `${canaryRps === null ? 'canary' : 'stable'} throughput unknown`;
    return missingData(name, problem, ctx, { value: null, threshold: null });
  }
  const total = canaryRps + stableRps;
  const ratio = total / base;
  const share = total > 0 ? ` (canary share ${pct(canaryRps / total)}, target ${ctx.targetWeight}%)` : '';
  const observed = `total ${rpsText(total)} = canary ${rpsText(canaryRps)} + stable ${rpsText(stableRps)}${share} vs baseline ${rpsText(base)}: ${times(ratio)}, band ${times(min)}-${times(max)}`;
  if (ratio < min || ratio > max) {
    return judged(
      name,
      'fail',
      `${observed}, outside the band`,
      `throughput ${times(ratio)} baseline is outside ${times(min)}-${times(max)}`,
      { value: ratio, threshold: ratio < min ? min : max },
    );
  }
  return judged(name, 'pass', `${observed}, within the band`, `throughput ${times(ratio)} baseline`, {
    value: ratio,
    threshold: ratio < 1 ? min : max,
  });
}
