/**
 * The judgment of one validation window: pure, no I/O (Argo Rollouts' analysis.go, Kayenta's
 * judge). Every check returns pass, fail or inconclusive with the numbers behind it; missing data
 * is never a pass. The rules are listed in docs/traffic-profiles.md and on each check.
 *
 * This module only re-exports; the parts live in `analysis/`:
 *
 * - `window.ts`: {@link judgeWindow}, the verdict composed from the checks, and the summary;
 * - `error-rate.ts`, `latency.ts`, `throughput.ts`, `resources.ts`: the checks, one file a kind;
 * - `check.ts`: what the checks share (names, context, outcome, reading the data defensively);
 * - `format.ts`: how the explanation text writes numbers.
 */
export { type Baseline, CHECK_NAMES, type CheckName, worstVerdict } from './analysis/check.js';
export { MIN_PERIODS_FOR_DISTRIBUTION_TEST } from './analysis/latency.js';
export {
  type JudgedWindow,
  type JudgeWindowArgs,
  judgeWindow,
  SIGNIFICANCE_CHECKS,
} from './analysis/window.js';
