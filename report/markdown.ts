/**
 * The deployment record as Markdown in the layout of the team's release checklist: header (date,
 * version, engineer, change), one section per phase (start, pods ready, error rate, p99 against
 * the target, throughput against the baseline, CPU/memory/disk, verdict with its numbers,
 * decision), the rollback, and "lessons learned" left for people to fill in.
 */
import type { CheckResult, DeploymentRecord, Verdict } from '../functions/domain/record.js';
import {
  CHECKS,
  check,
  checkNumbers,
  durationText,
  millis,
  percent,
  pValue,
  rate,
  reportModel,
  type WindowRow,
} from './model.js';

/**
 * Text from the record (gate evidence, reasons, events, names, numbers' labels) as inline
 * Markdown that shows exactly that text and can do nothing else: line breaks become spaces (a
 * value never starts a line, so it cannot forge a checklist item, a heading or a table row), HTML
 * is entity-encoded (`<script>` is shown, never run), and the characters of inline syntax
 * (emphasis, code, links, strikethrough, table cells, headings, escapes) are backslash-escaped,
 * as are block markers at the value's start (`- `, `1. `, `---`). `.`, `-` and digits elsewhere
 * stay as they are, so numbers read as numbers.
 */
export function escapeMarkdown(text: string): string {
  return text
    .replace(/\r\n|[\r\n\v\f\u0085\u2028\u2029]/g, ' ')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/[\\`*_[\]|~#]/g, '\\$&')
    .replace(/^(\s*)([-+=])(?=\s|$|[-=])/, '$1\\$2')
    .replace(/^(\s*\d{1,9})([.)])(?=\s|$)/, '$1\\$2');
}

/**
 * A value as inline code (image references, ids): the value verbatim between backticks, or, when
 * it holds a backtick, a `|` (which splits a table cell even inside code) or a line break, escaped
 * text instead.
 */
function code(text: string): string {
  return /[`|\r\n\v\f\u0085\u2028\u2029]/.test(text) ? escapeMarkdown(text) : `\`${text}\``;
}

const esc = escapeMarkdown;
const box = (v: Verdict | null | undefined) => (v === 'pass' ? '[x]' : '[ ]');
const mark = (v: Verdict | null | undefined) =>
  v === 'pass' ? '' : v === 'fail' ? ' — **FAILED**' : v === 'inconclusive' ? ' — *inconclusive*' : '';
const time = (iso: string | null | undefined) =>
  iso ? `${esc(iso.slice(0, 19).replace('T', ' '))} UTC` : 'n/a';

function item(c: CheckResult | undefined, label: string, text: string): string {
  return `- ${box(c?.verdict)} ${label}: ${text}${mark(c?.verdict)}`;
}

function windowLines(w: WindowRow, baselineRps: number | null): string[] {
  const d = w.decision;
  const c = d.canary;
  const s = d.stable;
  const er = check(d, CHECKS.errorRate);
  const erVs = check(d, CHECKS.errorRateVsStable);
  const p99 = check(d, CHECKS.p99Slo);
  const p99Vs = check(d, CHECKS.p99VsStable);
  const tp = check(d, CHECKS.throughput);
  const res = check(d, CHECKS.resources);
  const totalRps =
    c?.rps !== null && c?.rps !== undefined && s?.rps !== null && s?.rps !== undefined ? c.rps + s.rps : null;
  const lines = [
    `**Window ${d.attempt + 1}** (${time(d.start)} – ${time(d.end)}; traffic ${d.traffic.actualWeight ?? '?'}% measured, ${d.traffic.targetWeight}% asked)`,
    '',
    item(
      er,
      'Error rate',
      `${percent(c?.errorRate)} (${c?.errors ?? '?'}/${c?.requests ?? '?'}) vs limit ${percent(w.limits.errorRate)}; stable ${percent(s?.errorRate)}${erVs?.pValue !== undefined && erVs.pValue !== null ? ` (${pValue(erVs.pValue)})` : ''}${erVs && erVs.verdict !== 'pass' ? ` — vs stable: ${esc(erVs.verdict)}` : ''}`,
    ),
    item(
      p99,
      'p99 latency',
      `${millis(c?.p99Ms)} vs target ${millis(w.limits.p99Ms)}; stable ${millis(s?.p99Ms)}${p99Vs ? ` (${esc(checkNumbers(p99Vs).value)} of stable, ${esc(p99Vs.verdict)})` : ''}`,
    ),
    item(
      tp,
      'Throughput',
      `${rate(totalRps)} total vs baseline ${rate(baselineRps)}${tp?.value !== undefined && tp.value !== null ? ` (${tp.value.toFixed(2)}x)` : ''}; canary ${rate(c?.rps)}`,
    ),
    item(
      res,
      'CPU / memory / disk',
      `${percent(c?.cpu)} / ${percent(c?.memory)} / ${percent(c?.disk)}${res?.threshold !== undefined && res.threshold !== null ? ` (limit ${percent(res.threshold)})` : ''}`,
    ),
  ];
  if (d.measurementErrors.length > 0)
    lines.push(`- [ ] Measurement errors: ${esc(d.measurementErrors.join('; '))}`);
  lines.push(`- **Verdict: ${esc(d.verdict)}** — ${esc(d.summary)}`);
  lines.push(`- **Decision:** ${esc(w.action)}${w.rolledBackAfter ? ' (rolled back here)' : ''}`);
  return lines;
}

/** Renders the record as a Markdown release checklist. */
export function renderReportMarkdown(record: DeploymentRecord): string {
  const m = reportModel(record);
  const r = record;
  const out: string[] = [];
  out.push(`# Release checklist: ${esc(r.service)} ${esc(m.version)}`, '');
  out.push('| | |', '| --- | --- |');
  // Every value is rendered (escaped or as code) here; the cells hold nothing else.
  const rows: [string, string][] = [
    ['Date', time(r.startedAt)],
    ['Version', code(r.image)],
    ['Previous version', r.previousImage ? code(r.previousImage) : 'unknown'],
    ['Engineer', esc(r.requestedBy)],
    ['Change ref', r.changeRef ? esc(r.changeRef) : '—'],
    ['Mode', esc(r.mode)],
    ['Outcome', `**${esc(r.outcome)}**`],
    ['Serving now', r.finalImage ? code(r.finalImage) : 'n/a'],
    ['Duration', durationText(m.durationSeconds)],
    ['Deployment', code(r.deploymentId)],
  ];
  if (r.executionArn) rows.push(['Execution', code(r.executionArn)]);
  for (const [k, v] of rows) out.push(`| ${k} | ${v} |`);
  out.push('');

  out.push('## Before the release', '');
  out.push(`- [x] Rollback plan recorded: ${r.previousImage ? code(r.previousImage) : 'n/a'}`);
  out.push(
    r.baseline
      ? `- [x] Baseline: ${rate(r.baseline.rps)}, p99 ${millis(r.baseline.p99Ms)} (measured ${time(r.baseline.measuredAt)})`
      : '- [ ] Baseline: not measured',
  );
  for (const g of m.gates) {
    out.push(
      `- ${g.status === 'pass' || g.status === 'approved' || g.status === 'passed' ? '[x]' : '[ ]'} Gate ${esc(g.name)}: ${esc(g.status)}${g.detail ? ` — ${esc(g.detail)}` : ''}`,
    );
  }
  out.push('');

  r.phases.forEach((phase, i) => {
    out.push(`## Phase ${i + 1}: ${esc(phase.name)} (${phase.weight}%)`, '');
    out.push(`- [x] Started: ${time(phase.startedAt)}`);
    out.push(
      phase.pods
        ? `- ${phase.pods.ready >= phase.pods.desired && phase.pods.desired > 0 ? '[x]' : '[ ]'} Pods ready: ${phase.pods.ready}/${phase.pods.desired} (${esc(phase.pods.status)})`
        : '- [ ] Pods ready: not recorded',
    );
    const rows = m.windows.filter((w) => w.phase === phase.name);
    if (rows.length === 0)
      out.push('- [ ] Validation window: none (the phase ended before its window was judged)');
    for (const w of rows) out.push('', ...windowLines(w, r.baseline?.rps ?? null));
    out.push('', `Phase verdict: **${esc(phase.verdict ?? 'n/a')}**; ended ${time(phase.endedAt)}`, '');
  });

  out.push('## Rollback', '');
  if (r.rollback) {
    const rb = r.rollback;
    out.push(`- Trigger: ${esc(rb.trigger)}`);
    out.push(`- Phase: ${esc(rb.phase ?? 'n/a')}`);
    out.push(`- Reason: ${esc(rb.reason)}`);
    out.push(`- Started: ${time(rb.startedAt)}; completed: ${time(rb.completedAt)}`);
    if (rb.alarm) out.push(`- Alarm: ${esc(rb.alarm.name)}: ${esc(rb.alarm.reason)}`);
    out.push(`- Restored: ${r.previousImage ? code(r.previousImage) : 'n/a'}`);
  } else {
    out.push('- Not needed.');
  }
  out.push('');

  out.push('## Checks', '');
  out.push(
    '| window | check | verdict | value | threshold | p | detail |',
    '| --- | --- | --- | --- | --- | --- | --- |',
  );
  for (const w of m.windows) {
    for (const c of w.decision.checks) {
      const n = checkNumbers(c);
      out.push(
        `| ${esc(w.label)} | ${esc(c.name)} | ${esc(c.verdict)} | ${esc(n.value)} | ${esc(n.threshold)} | ${esc(pValue(c.pValue))} | ${esc(c.detail)} |`,
      );
    }
  }
  out.push('');

  out.push('## Timeline', '');
  for (const e of r.events) out.push(`- ${time(e.at)} — ${esc(e.message)}`);
  out.push('');

  out.push('## Lessons learned', '', '_For the team to fill in._', '', '- ', '');
  return `${out.join('\n')}`;
}
