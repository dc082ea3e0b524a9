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

const box = (v: Verdict | null | undefined) => (v === 'pass' ? '[x]' : '[ ]');
const mark = (v: Verdict | null | undefined) =>
  v === 'pass' ? '' : v === 'fail' ? ' — **FAILED**' : v === 'inconclusive' ? ' — *inconclusive*' : '';
const time = (iso: string | null | undefined) => (iso ? `${iso.slice(0, 19).replace('T', ' ')} UTC` : 'n/a');
/** Table cells must not break the table. */
const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

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
      `${percent(c?.errorRate)} (${c?.errors ?? '?'}/${c?.requests ?? '?'}) vs limit ${percent(w.limits.errorRate)}; stable ${percent(s?.errorRate)}${erVs?.pValue !== undefined && erVs.pValue !== null ? ` (${pValue(erVs.pValue)})` : ''}${erVs && erVs.verdict !== 'pass' ? ` — vs stable: ${erVs.verdict}` : ''}`,
    ),
    item(
      p99,
      'p99 latency',
      `${millis(c?.p99Ms)} vs target ${millis(w.limits.p99Ms)}; stable ${millis(s?.p99Ms)}${p99Vs ? ` (${checkNumbers(p99Vs).value} of stable, ${p99Vs.verdict})` : ''}`,
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
    lines.push(`- [ ] Measurement errors: ${d.measurementErrors.join('; ')}`);
  lines.push(`- **Verdict: ${d.verdict}** — ${d.summary}`);
  lines.push(`- **Decision:** ${w.action}${w.rolledBackAfter ? ' (rolled back here)' : ''}`);
  return lines;
}

/** Renders the record as a Markdown release checklist. */
export function renderReportMarkdown(record: DeploymentRecord): string {
  const m = reportModel(record);
  const r = record;
  const out: string[] = [];
  out.push(`# Release checklist: ${r.service} ${m.version}`, '');
  out.push('| | |', '| --- | --- |');
  const rows: [string, string][] = [
    ['Date', time(r.startedAt)],
    ['Version', `\`${r.image}\``],
    ['Previous version', r.previousImage ? `\`${r.previousImage}\`` : 'unknown'],
    ['Engineer', r.requestedBy],
    ['Change ref', r.changeRef ?? '—'],
    ['Mode', r.mode],
    ['Outcome', `**${r.outcome}**`],
    ['Serving now', r.finalImage ? `\`${r.finalImage}\`` : 'n/a'],
    ['Duration', durationText(m.durationSeconds)],
    ['Deployment', `\`${r.deploymentId}\``],
  ];
  if (r.executionArn) rows.push(['Execution', `\`${r.executionArn}\``]);
  for (const [k, v] of rows) out.push(`| ${k} | ${cell(v)} |`);
  out.push('');

  out.push('## Before the release', '');
  out.push(`- [x] Rollback plan recorded: ${r.previousImage ? `\`${r.previousImage}\`` : 'n/a'}`);
  out.push(
    r.baseline
      ? `- [x] Baseline: ${rate(r.baseline.rps)}, p99 ${millis(r.baseline.p99Ms)} (measured ${time(r.baseline.measuredAt)})`
      : '- [ ] Baseline: not measured',
  );
  for (const g of m.gates) {
    out.push(
      `- ${g.status === 'pass' || g.status === 'approved' || g.status === 'passed' ? '[x]' : '[ ]'} Gate ${g.name}: ${g.status}${g.detail ? ` — ${g.detail}` : ''}`,
    );
  }
  out.push('');

  r.phases.forEach((phase, i) => {
    out.push(`## Phase ${i + 1}: ${phase.name} (${phase.weight}%)`, '');
    out.push(`- [x] Started: ${time(phase.startedAt)}`);
    out.push(
      phase.pods
        ? `- ${phase.pods.ready >= phase.pods.desired && phase.pods.desired > 0 ? '[x]' : '[ ]'} Pods ready: ${phase.pods.ready}/${phase.pods.desired} (${phase.pods.status})`
        : '- [ ] Pods ready: not recorded',
    );
    const rows = m.windows.filter((w) => w.phase === phase.name);
    if (rows.length === 0)
      out.push('- [ ] Validation window: none (the phase ended before its window was judged)');
    for (const w of rows) out.push('', ...windowLines(w, r.baseline?.rps ?? null));
    out.push('', `Phase verdict: **${phase.verdict ?? 'n/a'}**; ended ${time(phase.endedAt)}`, '');
  });

  out.push('## Rollback', '');
  if (r.rollback) {
    const rb = r.rollback;
    out.push(`- Trigger: ${rb.trigger}`);
    out.push(`- Phase: ${rb.phase ?? 'n/a'}`);
    out.push(`- Reason: ${rb.reason}`);
    out.push(`- Started: ${time(rb.startedAt)}; completed: ${time(rb.completedAt)}`);
    if (rb.alarm) out.push(`- Alarm: ${rb.alarm.name}: ${rb.alarm.reason}`);
    out.push(`- Restored: ${r.previousImage ? `\`${r.previousImage}\`` : 'n/a'}`);
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
        `| ${cell(w.label)} | ${c.name} | ${c.verdict} | ${cell(n.value)} | ${cell(n.threshold)} | ${pValue(c.pValue)} | ${cell(c.detail)} |`,
      );
    }
  }
  out.push('');

  out.push('## Timeline', '');
  for (const e of r.events) out.push(`- ${time(e.at)} — ${e.message}`);
  out.push('');

  out.push('## Lessons learned', '', '_For the team to fill in._', '', '- ', '');
  return `${out.join('\n')}`;
}
