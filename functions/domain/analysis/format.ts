/**
 * The explanation text of the judgment: every number in a detail or a summary is written the
 * same way (percentages, milliseconds, p-values, ratios, the fail level and how it was split).
 */
import type { Context } from './check.js';

/** `0.42%`: a rate as a percentage, 3 significant digits. */
export function pct(rate: number): string {
  return `${rate === 0 ? 0 : Number((rate * 100).toPrecision(3))}%`;
}
/** `210 ms`, `4.56 ms`: whole milliseconds from 100 ms, else 3 significant digits. */
export function ms(value: number): string {
  return `${value >= 100 ? Math.round(value) : Number(value.toPrecision(3))} ms`;
}
/** `p=0.012`, `p=3.1e-6`, `p<1e-300`. */
export function pv(p: number): string {
  if (p < 1e-300) return 'p<1e-300';
  return `p=${p < 1e-4 ? p.toExponential(1) : Number(p.toPrecision(2))}`;
}
/** `0.2 pp`: a difference of rates in percentage points. */
export function points(rate: number): string {
  return `${rate === 0 ? 0 : Number((rate * 100).toPrecision(3))} pp`;
}
/** `1.25x`. */
export function times(ratio: number): string {
  return `${Number(ratio.toFixed(2))}x`;
}
/** `20 rps`. */
export function rpsText(rps: number): string {
  return `${Number(rps.toPrecision(4))} rps`;
}

/** `0.42% (21/5000)`. */
export function rateText(errors: number, requests: number): string {
  return `${pct(errors / requests)} (${errors}/${requests})`;
}

/** Appended to an inconclusive detail so the reader knows whether queries failed. */
export function errorsNote(measurementErrors: readonly string[]): string {
  return measurementErrors.length > 0
    ? `; ${measurementErrors.length} measurement error(s): ${measurementErrors.join(' | ')}`
    : '';
}

/** `level (failAlpha a / n tests / k looks)`, for details. */
export function levelText(ctx: Context): string {
  const level = Number(ctx.failLevel.toPrecision(2));
  const parts = [
    `failAlpha ${ctx.t.failAlpha}`,
    ...(ctx.tests > 1 ? [`${ctx.tests} tests`] : []),
    ...(ctx.looks > 1 ? [`${ctx.looks} looks`] : []),
  ];
  return `${level} (${parts.join(' / ')})`;
}
