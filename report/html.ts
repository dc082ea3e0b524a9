/**
 * One self-contained HTML page per deployment record: header, a timeline of the phases and the
 * traffic weight, charts of error rate and p99 for canary and stable across the windows with the
 * limits drawn as lines and the rollback marked, the gates, every verdict with its checks and
 * numbers, the rollback and the events. Chart.js is inlined from node_modules, so the file has no
 * external reference and works offline (and under a strict file:// origin).
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { DeploymentRecord, Verdict, VersionMetrics } from '../functions/domain/record.js';
import {
  checkNumbers,
  durationText,
  millis,
  percent,
  pValue,
  type ReportModel,
  rate,
  reportModel,
  type WindowRow,
} from './model.js';

let chartJsSource: string | undefined;

/** The Chart.js UMD bundle (node_modules/chart.js/dist/chart.umd.js), read once. */
export function chartJsBundle(): string {
  if (chartJsSource === undefined) {
    const require = createRequire(import.meta.url);
    const main = require.resolve('chart.js'); // .../chart.js/dist/chart.cjs
    chartJsSource = readFileSync(join(dirname(main), 'chart.umd.js'), 'utf8');
  }
  return chartJsSource;
}

/** Escapes text for HTML element content and attribute values. */
export function escapeHtml(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

/** JSON that is safe inside a <script> element (no `</script>`, no `<!--`). */
function scriptJson(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

const e = escapeHtml;
const time = (iso: string | null | undefined) => (iso ? `${iso.slice(0, 19).replace('T', ' ')} UTC` : 'n/a');
const clock = (iso: string | null | undefined) => (iso ? iso.slice(11, 19) : 'n/a');

const OUTCOME_CLASS: Record<string, string> = {
  SUCCEEDED: 'good',
  ROLLED_BACK: 'bad',
  FAILED: 'bad',
  REJECTED: 'warn',
  RUNNING: 'info',
};

function badge(verdict: Verdict | string | null | undefined): string {
  const v = verdict ?? 'n/a';
  const cls = v === 'pass' ? 'good' : v === 'fail' ? 'bad' : v === 'inconclusive' ? 'warn' : 'info';
  return `<span class="badge ${cls}">${e(v)}</span>`;
}

function timelineHtml(m: ReportModel): string {
  const r = m.record;
  const t0 = Date.parse(r.startedAt);
  const end = Date.parse(r.endedAt ?? r.events.at(-1)?.at ?? r.startedAt);
  const span = Math.max(1, end - t0);
  const pos = (iso: string) => Math.min(100, Math.max(0, ((Date.parse(iso) - t0) / span) * 100));
  const bars = r.phases
    .map((p) => {
      const left = pos(p.startedAt);
      const right = pos(p.endedAt ?? r.endedAt ?? new Date(end).toISOString());
      const width = Math.max(1.5, right - left);
      const cls = p.verdict === 'pass' ? 'good' : p.verdict === 'fail' ? 'bad' : p.verdict ? 'warn' : 'info';
      return `<div class="bar ${cls}" style="left:${left.toFixed(2)}%;width:${width.toFixed(2)}%" title="${e(`${p.name} ${p.weight}%: ${p.verdict ?? 'running'}, ${time(p.startedAt)} – ${time(p.endedAt)}`)}"><span>${e(p.name)} ${p.weight}% · ${e(p.verdict ?? 'running')}</span></div>`;
    })
    .join('');
  const w = r.watch;
  const watch = w
    ? `<div class="bar watch" style="left:${pos(w.startedAt).toFixed(2)}%;width:${Math.max(1.5, pos(w.standDownAt ?? w.until) - pos(w.startedAt)).toFixed(2)}%" title="${e(`post-deployment watch: ${time(w.startedAt)} – ${time(w.standDownAt ?? w.until)}`)}"><span>post-deployment watch</span></div>`
    : '';
  const at = r.rollback ? pos(r.rollback.startedAt) : 0;
  const marker = r.rollback
    ? `<div class="marker${at > 70 ? ' flip' : ''}" style="left:${at.toFixed(2)}%"><span>rolled back ${clock(r.rollback.startedAt)}</span></div>`
    : '';
  return `<div class="timeline"><div class="track">${bars}${watch}${marker}</div><div class="axis"><span>${clock(r.startedAt)}</span><span>${durationText(m.durationSeconds)}</span><span>${clock(new Date(end).toISOString())}</span></div></div>`;
}

function metricsTable(c: VersionMetrics | null, s: VersionMetrics | null): string {
  const row = (label: string, f: (v: VersionMetrics) => string) =>
    `<tr><th>${label}</th><td class="num">${c ? e(f(c)) : 'n/a'}</td><td class="num">${s ? e(f(s)) : 'n/a'}</td></tr>`;
  return `<table class="metrics"><thead><tr><th></th><th>canary</th><th>stable</th></tr></thead><tbody>
${row('requests', (v) => String(v.requests))}
${row('errors', (v) => String(v.errors))}
${row('error rate', (v) => percent(v.errorRate))}
${row('p50', (v) => millis(v.p50Ms))}
${row('p99', (v) => millis(v.p99Ms))}
${row('throughput', (v) => rate(v.rps))}
${row('cpu', (v) => percent(v.cpu))}
${row('memory', (v) => percent(v.memory))}
${row('disk', (v) => percent(v.disk))}
</tbody></table>`;
}

function windowHtml(w: WindowRow): string {
  const d = w.decision;
  const checks = d.checks
    .map((c) => {
      const n = checkNumbers(c);
      return `<tr class="${c.verdict}"><td>${e(c.name)}</td><td>${badge(c.verdict)}</td><td class="num">${e(n.value)}</td><td class="num">${e(n.threshold)}</td><td class="num">${e(pValue(c.pValue))}</td><td>${e(c.detail)}</td></tr>`;
    })
    .join('\n');
  const errors =
    d.measurementErrors.length > 0
      ? `<p class="errors">Measurement errors: ${d.measurementErrors.map(e).join('; ')}</p>`
      : '';
  return `<section class="window${w.rolledBackAfter ? ' rolled-back' : ''}" id="window-${e(w.phase)}-${d.attempt}">
<h3>${e(w.label)} ${badge(d.verdict)}${w.rolledBackAfter ? ' <span class="badge bad">rollback</span>' : ''}</h3>
<p class="when">${time(d.start)} – ${time(d.end)} · traffic ${d.traffic.actualWeight ?? '?'}% measured (${d.traffic.targetWeight}% asked) · decision: <strong>${e(w.action)}</strong></p>
<p class="summary">${e(d.summary)}</p>${errors}
<div class="cols">${metricsTable(d.canary, d.stable)}
<table class="checks"><thead><tr><th>check</th><th>verdict</th><th>value</th><th>threshold</th><th>p</th><th>detail</th></tr></thead><tbody>
${checks}
</tbody></table></div>
</section>`;
}

/** Data the page's script draws (numbers in display units: percent and ms). */
function chartData(m: ReportModel) {
  const pct = (v: number | null | undefined) => (v === null || v === undefined ? null : v * 100);
  return {
    labels: m.windows.map((w) => w.label),
    verdicts: m.windows.map((w) => w.decision.verdict),
    errorRate: {
      canary: m.windows.map((w) => pct(w.canary?.errorRate)),
      stable: m.windows.map((w) => pct(w.stable?.errorRate)),
      limit: m.windows.map((w) => pct(w.limits.errorRate)),
    },
    p99: {
      canary: m.windows.map((w) => w.canary?.p99Ms ?? null),
      stable: m.windows.map((w) => w.stable?.p99Ms ?? null),
      limit: m.windows.map((w) => w.limits.p99Ms),
    },
    weights: m.weights.map((p) => ({ x: Number(p.minute.toFixed(3)), y: p.weight })),
    rollback: m.record.rollback
      ? {
          windowX: m.rollbackAt
            ? m.rollbackAt.onWindow
              ? m.rollbackAt.index
              : m.rollbackAt.index + 0.5
            : null,
          minute: m.rollbackMinute,
          label: `rollback (${m.record.rollback.phase ?? '?'})`,
        }
      : null,
  };
}

/** The page's own script: three charts and a marker plugin for the rollback. */
const PAGE_SCRIPT = `
(function () {
  var data = JSON.parse(document.getElementById('report-data').textContent);
  var VERDICT = { pass: 'rgb(5, 150, 105)', fail: 'rgb(220, 38, 38)', inconclusive: 'rgb(217, 119, 6)' };
  var COLORS = { canary: 'rgb(37, 99, 235)', stable: 'rgb(100, 116, 139)', limit: 'rgb(220, 38, 38)', weight: 'rgb(5, 150, 105)' };
  Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
  Chart.defaults.animation = false;
  Chart.defaults.maintainAspectRatio = false;
  var marker = {
    id: 'rollbackMarker',
    afterDatasetsDraw: function (chart, _args, opts) {
      if (!opts || opts.x === null || opts.x === undefined) return;
      var x = chart.scales.x.getPixelForValue(opts.x);
      var area = chart.chartArea;
      if (!isFinite(x)) return;
      var ctx = chart.ctx;
      ctx.save();
      ctx.strokeStyle = COLORS.limit;
      ctx.lineWidth = 2;
      ctx.setLineDash([4, 3]);
      ctx.beginPath();
      ctx.moveTo(x, area.top);
      ctx.lineTo(x, area.bottom);
      ctx.stroke();
      ctx.setLineDash([]);
      ctx.font = 'bold 12px ' + Chart.defaults.font.family;
      var right = x > (area.left + area.right) / 2;
      var w = ctx.measureText(opts.label).width;
      var tx = right ? x - 8 - w : x + 8;
      ctx.fillStyle = 'rgba(255, 255, 255, 0.85)';
      ctx.fillRect(tx - 3, area.top + 2, w + 6, 17);
      ctx.fillStyle = COLORS.limit;
      ctx.textAlign = 'left';
      ctx.fillText(opts.label, tx, area.top + 15);
      ctx.restore();
    }
  };
  Chart.register(marker);
  function line(label, values, color, extra) {
    var ds = { label: label, data: values, borderColor: color, backgroundColor: color, borderWidth: 2, pointRadius: 4, spanGaps: true };
    for (var k in extra) ds[k] = extra[k];
    return ds;
  }
  function windowChart(id, series, unit, limitLabel) {
    return new Chart(document.getElementById(id), {
      type: 'line',
      data: {
        labels: data.labels,
        datasets: [
          line('canary (new version)', series.canary, COLORS.canary, {
            pointRadius: 6,
            pointBorderColor: COLORS.canary,
            pointBackgroundColor: data.verdicts.map(function (v) { return VERDICT[v] || COLORS.canary; })
          }),
          line('stable', series.stable, COLORS.stable, {}),
          line(limitLabel, series.limit, COLORS.limit, { borderDash: [6, 4], pointRadius: 0, borderWidth: 1.5 })
        ]
      },
      options: {
        plugins: {
          legend: { position: 'bottom' },
          rollbackMarker: { x: data.rollback ? data.rollback.windowX : null, label: data.rollback ? data.rollback.label : '' },
          tooltip: { callbacks: { label: function (c) { return c.dataset.label + ': ' + (c.parsed.y === null ? 'n/a' : c.parsed.y.toPrecision(3) + ' ' + unit); } } }
        },
        scales: { y: { beginAtZero: true, grace: '15%', title: { display: true, text: unit } }, x: { offset: true } }
      }
    });
  }
  var charts = [
    windowChart('chart-error-rate', data.errorRate, '%', 'error-rate limit'),
    windowChart('chart-p99', data.p99, 'ms', 'p99 SLO'),
    new Chart(document.getElementById('chart-weight'), {
      type: 'line',
      data: { datasets: [line('traffic to the new version', data.weights, COLORS.weight, { stepped: 'before', fill: true, backgroundColor: 'rgba(5, 150, 105, 0.12)', pointRadius: 0 })] },
      options: {
        plugins: { legend: { display: false }, rollbackMarker: { x: data.rollback ? data.rollback.minute : null, label: 'rollback' } },
        scales: {
          x: { type: 'linear', min: 0, max: data.weights.length ? data.weights[data.weights.length - 1].x : undefined, title: { display: true, text: 'minutes since start' } },
          y: { min: 0, max: 100, title: { display: true, text: '% of traffic' } }
        }
      }
    })
  ];
  window.tpsReport = { charts: charts, ready: true };
})();
`;

const STYLE = `
:root { --good: #059669; --bad: #dc2626; --warn: #d97706; --info: #2563eb; --muted: #64748b; --line: #e2e8f0; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; color: #0f172a; background: #f8fafc; }
main { max-width: 1180px; margin: 0 auto; padding: 24px; }
h1 { font-size: 24px; margin: 0 0 4px; }
h2 { font-size: 18px; margin: 28px 0 10px; }
h3 { font-size: 15px; margin: 0 0 6px; }
.card, section.window { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 16px; margin-bottom: 14px; }
section.window.rolled-back { border-color: var(--bad); box-shadow: inset 4px 0 0 var(--bad); }
.badge { display: inline-block; padding: 1px 8px; border-radius: 999px; font-size: 12px; font-weight: 600; color: #fff; vertical-align: middle; }
.badge.good { background: var(--good); } .badge.bad { background: var(--bad); } .badge.warn { background: var(--warn); } .badge.info { background: var(--info); }
.outcome { font-size: 15px; padding: 3px 12px; }
.meta { display: grid; grid-template-columns: repeat(auto-fill, minmax(300px, 1fr)); gap: 4px 24px; margin-top: 12px; }
.meta div { overflow-wrap: anywhere; } .meta div.wide { grid-column: 1 / -1; } .meta b { white-space: nowrap; color: var(--muted); font-weight: 500; margin-right: 6px; }
code { font: 12.5px ui-monospace, "DejaVu Sans Mono", monospace; }
.timeline .track { position: relative; height: 44px; background: #f1f5f9; border-radius: 6px; }
.timeline .bar { position: absolute; top: 6px; height: 32px; border-radius: 5px; color: #fff; font-size: 12px; font-weight: 600; overflow: hidden; white-space: nowrap; }
.timeline .bar span { display: block; padding: 7px 8px; }
.timeline .bar.good { background: var(--good); } .timeline .bar.bad { background: var(--bad); } .timeline .bar.warn { background: var(--warn); } .timeline .bar.info { background: var(--info); }
.timeline .bar.watch { background: #94a3b8; }
.timeline .marker { position: absolute; top: -6px; bottom: -6px; border-left: 2px dashed var(--bad); }
.timeline .marker span { position: absolute; top: -20px; left: 4px; font-size: 12px; font-weight: 700; color: var(--bad); white-space: nowrap; }
.timeline .marker.flip span { left: auto; right: 4px; }
.timeline { margin-top: 18px; }
.timeline .axis { display: flex; justify-content: space-between; color: var(--muted); font-size: 12px; margin-top: 4px; }
.charts { display: grid; grid-template-columns: 1fr 1fr; gap: 14px; }
.chart { position: relative; height: 280px; }
.chart.small { height: 180px; }
.cols { display: grid; grid-template-columns: 360px minmax(0, 1fr); gap: 14px; align-items: start; }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
thead th { color: var(--muted); font-weight: 600; }
td.num { white-space: nowrap; font-variant-numeric: tabular-nums; }
table.metrics td { font-variant-numeric: tabular-nums; white-space: nowrap; }
tr.fail td:first-child { box-shadow: inset 3px 0 0 var(--bad); }
tr.inconclusive td:first-child { box-shadow: inset 3px 0 0 var(--warn); }
.when { color: var(--muted); margin: 0 0 6px; } .summary { margin: 0 0 10px; } .errors { color: var(--bad); }
.rollback { border-color: var(--bad); background: #fef2f2; }
ol.events { margin: 0; padding-left: 20px; } ol.events li { margin: 2px 0; } ol.events time { color: var(--muted); font-variant-numeric: tabular-nums; margin-right: 8px; }
footer { color: var(--muted); font-size: 12px; margin-top: 24px; }
@media (max-width: 820px) { .charts, .cols { grid-template-columns: 1fr; } }
`;

/** Options of {@link renderReportHtml}. */
export interface ReportHtmlOptions {
  /** When the page was generated. @default now */
  readonly generatedAt?: Date;
}

/** Renders the record as one self-contained HTML page. */
export function renderReportHtml(record: DeploymentRecord, opts: ReportHtmlOptions = {}): string {
  const m = reportModel(record);
  const r = record;
  const images = `<div class="wide"><b>images</b><code>${e(r.previousImage ?? 'unknown')}</code> → <code>${e(r.image)}</code> · serving now <code>${e(r.finalImage ?? 'n/a')}</code></div>`;
  const meta: [string, string][] = [
    ['engineer', e(r.requestedBy)],
    ['change', e(r.changeRef ?? '—')],
    ['mode', e(r.mode)],
    ['started', e(time(r.startedAt))],
    ['duration', e(durationText(m.durationSeconds))],
    ['deployment', `<code>${e(r.deploymentId)}</code>`],
  ];
  if (r.baseline) {
    meta.push(['baseline', e(`${rate(r.baseline.rps)}, p99 ${millis(r.baseline.p99Ms)}`)]);
  }
  if (r.watch) {
    meta.push([
      'watch',
      e(
        `${durationText(r.watch.seconds)} until ${clock(r.watch.until)}${r.watch.standDownAt ? `, stood down ${clock(r.watch.standDownAt)}` : ''}`,
      ),
    ]);
  }
  const followUps =
    (r.followUps ?? []).length > 0
      ? `<p><strong>Owed after the release:</strong></p><ul>${(r.followUps ?? []).map((f) => `<li>${e(f.item)}: ${e(f.detail)}</li>`).join('')}</ul>`
      : '';
  const gates =
    m.gates.length > 0
      ? `<h2>Gates</h2><div class="card"><table><thead><tr><th>gate</th><th>status</th><th>when</th><th>detail</th></tr></thead><tbody>${m.gates
          .map(
            (g) =>
              `<tr class="${g.status}"><td>${e(g.name)}</td><td>${badge(g.status)}</td><td>${e(g.at ? time(g.at) : '')}</td><td>${e(g.detail)}</td></tr>`,
          )
          .join('')}</tbody></table>${followUps}</div>`
      : '';
  const rb = r.rollback;
  const rollback = rb
    ? `<h2>Rollback</h2><div class="card rollback"><p><strong>Rolled back at ${e(rb.phase ?? '?')}</strong> by ${e(rb.trigger)}, ${e(time(rb.startedAt))} – ${e(time(rb.completedAt))}; restored <code>${e(r.previousImage ?? '?')}</code>.</p><p>${e(rb.reason)}</p>${rb.alarm ? `<p>Alarm <code>${e(rb.alarm.name)}</code>: ${e(rb.alarm.reason)}</p>` : ''}</div>`
    : '';
  const title = `${r.service} ${m.version}: ${r.outcome}`;
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${e(title)} · tps-deploy</title>
<style>${STYLE}</style>
</head>
<body>
<main>
<header class="card">
<h1>${e(r.service)} ${e(m.version)} <span class="badge outcome ${OUTCOME_CLASS[r.outcome] ?? 'info'}">${e(r.outcome)}</span></h1>
<div class="meta">${images}${meta.map(([k, v]) => `<div><b>${k}</b>${v}</div>`).join('')}</div>
</header>
<h2>Timeline</h2>
<div class="card">${timelineHtml(m)}<div class="chart small"><canvas id="chart-weight" aria-label="traffic to the new version over time"></canvas></div></div>
<h2>Error rate and p99 per window</h2>
<div class="charts">
<div class="card"><h3>Error rate</h3><div class="chart"><canvas id="chart-error-rate" aria-label="error rate per window"></canvas></div></div>
<div class="card"><h3>p99 latency</h3><div class="chart"><canvas id="chart-p99" aria-label="p99 latency per window"></canvas></div></div>
</div>
${gates}
${rollback}
<h2>Verdicts</h2>
${m.windows.length > 0 ? m.windows.map(windowHtml).join('\n') : '<div class="card">No window was judged.</div>'}
<h2>Events</h2>
<div class="card"><ol class="events">${r.events.map((ev) => `<li><time>${e(clock(ev.at))}</time>${e(ev.message)}</li>`).join('')}</ol></div>
<footer>tps-deploy report · generated ${e(time((opts.generatedAt ?? new Date()).toISOString()))} · execution <code>${e(r.executionArn ?? 'n/a')}</code></footer>
</main>
<script id="report-data" type="application/json">${scriptJson(chartData(m))}</script>
<script>${chartJsBundle().replace(/<\/script/gi, '<\\/script')}</script>
<script>${PAGE_SCRIPT}</script>
</body>
</html>
`;
}
