/**
 * The HTML report of a real record (a release rolled back at staging on the local cluster),
 * opened in headless Chromium: no console errors, no request leaves the file, the charts drew,
 * the rollback is marked where it happened. The screenshot goes to a temp dir, and to
 * docs/report-screenshot.png with TPS_UPDATE_SCREENSHOT=1.
 */
import { execFile } from 'node:child_process';
import { copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { type Browser, chromium } from 'playwright-core';
import { discardLines } from '../../functions/adapters/powertools/output.js';
import { loadProfile } from '../../functions/adapters/synthetic/index.js';
import type { CatalogInput } from '../../functions/domain/config.js';
import type { DeploymentRecord } from '../../functions/domain/record.js';
import { mintFunctionIdentities } from '../../local/cluster/identities.js';
import { createDemoApp } from '../../local/demo-app.js';
import { LocalEnvironment } from '../../local/environment.js';
import { renderReportHtml } from '../../report/html.js';
import { reportModel } from '../../report/model.js';
import { clusterEnv, deleteNamespace } from '../helpers/cluster-env.js';
import { ROLE_MANIFEST } from '../helpers/k8s.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

let browser: Browser;
let record: DeploymentRecord;
let dir: string;
const namespace = `report-${Date.now().toString(36)}`;

beforeAll(async () => {
  // Installs Debian's chromium on a fresh machine (CI runs as root).
  await promisify(execFile)('sh', [join(ROOT, 'scripts/ensure-chromium.sh')], { timeout: 600_000 });
  dir = await mkdtemp(join(tmpdir(), 'report-html-'));
  const cluster = clusterEnv();
  await createDemoApp(cluster.kubeconfig, {
    namespace,
    name: 'storefront',
    image: 'registry.local/shop/storefront:v1.0.0',
    replicas: 4,
    roleManifest: ROLE_MANIFEST,
    appName: 'tps-report',
  });
  const catalog: CatalogInput = {
    appName: 'tps-report',
    services: {
      storefront: {
        cluster: { name: 'local', region: 'us-east-1' },
        namespace,
        deployment: 'storefront',
        containers: ['storefront'],
        router: { type: 'replica-ratio', service: 'storefront' },
        slo: { p99Ms: 300 },
        metrics: { source: 'synthetic', profile: 'late-degradation' },
        sandbox: true,
        approval: false,
        onCall: {
          schedule: [
            {
              who: 'sre',
              days: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'],
              start: '00:00',
              end: '24:00',
            },
          ],
        },
      },
    },
  };
  const env = await LocalEnvironment.start({
    catalog,
    kubeconfigs: await mintFunctionIdentities(cluster.kubeconfig, 'tps-report'),
    profiles: { storefront: stagingVerdictProfile() },
    functionOutput: discardLines,
  });
  try {
    const run = await env.run({
      service: 'storefront',
      image: 'registry.local/shop/storefront:v1.3.0',
      requestedBy: 'jane@example.com',
      changeRef: 'CHG-2041',
      attestations: { testsPassed: true, reviewers: ['alice', 'bob'] },
    });
    record = run.record!;
  } finally {
    await env.stop();
  }
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
}, 900_000);

afterAll(async () => {
  await browser?.close();
  await deleteNamespace(namespace);
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** Pixels of a canvas: how many are drawn, and how many are near a colour. */
interface CanvasPixels {
  readonly width: number;
  readonly height: number;
  readonly drawn: number;
  readonly near: Record<string, number>;
}

// Browser-side code, as strings: the project compiles without the DOM library.

/** The datasets of every chart, as Chart.js holds them. */
const SERIES = `window.tpsReport.charts.map((c) => c.data.datasets.map((d) => ({ label: d.label, data: d.data })))`;

/** Per canvas: size, drawn (non-transparent) pixels, and pixels near each series colour. */
const PIXELS = `(() => {
  const colours = { canary: [37, 99, 235], stable: [100, 116, 139], red: [220, 38, 38], green: [5, 150, 105] };
  const out = {};
  for (const canvas of document.querySelectorAll('canvas')) {
    const { data } = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height);
    let drawn = 0;
    const near = { canary: 0, stable: 0, red: 0, green: 0 };
    for (let i = 0; i < data.length; i += 4) {
      if (data[i + 3] === 0) continue;
      drawn++;
      for (const [k, [r, g, b]] of Object.entries(colours)) {
        if (Math.abs(data[i] - r) < 30 && Math.abs(data[i + 1] - g) < 30 && Math.abs(data[i + 2] - b) < 30) near[k]++;
      }
    }
    out[canvas.id] = { width: canvas.width, height: canvas.height, drawn, near };
  }
  return out;
})()`;

/** In the error-rate chart, the pixel column at the staging window: how many rows are red. */
const MARKER_COLUMN = `(() => {
  const chart = window.tpsReport.charts[0];
  const ratio = chart.currentDevicePixelRatio;
  const x = Math.round(chart.scales.x.getPixelForValue(1) * ratio);
  const ctx = chart.canvas.getContext('2d');
  const top = Math.round(chart.chartArea.top * ratio);
  const bottom = Math.round(chart.chartArea.bottom * ratio);
  let red = 0;
  for (let y = top; y < bottom; y++) {
    for (let dx = -1; dx <= 1; dx++) {
      const [r, g, b] = ctx.getImageData(x + dx, y, 1, 1).data;
      if (r > 190 && g < 90 && b < 90) { red++; break; }
    }
  }
  return { red, height: bottom - top };
})()`;

/**
 * late-degradation with the canary failing 1.5% (not 3%) from the last third of staging: at 50% of
 * the traffic the service fails about 0.75%, under the error-rate alarm's 1% that the local
 * CloudWatch evaluates, so the staging window's verdict (the window this report draws) rolls it
 * back rather than the alarm.
 */
function stagingVerdictProfile() {
  const base = loadProfile('late-degradation');
  const canary = base.versions.canary;
  const errorRate = Array.isArray(canary.errorRate)
    ? canary.errorRate.map((p) => (p.value > 0.01 ? { ...p, value: 0.015 } : p))
    : canary.errorRate;
  return { ...base, versions: { ...base.versions, canary: { ...canary, errorRate } } };
}

describe('HTML report of a release rolled back at staging', () => {
  it('is the record the test meant: canary passed, staging failed, rolled back at staging', () => {
    expect(record.outcome).toBe('ROLLED_BACK');
    expect(record.rollback?.phase).toBe('staging');
    expect(record.phases.map((p) => [p.name, p.verdict])).toEqual([
      ['canary', 'pass'],
      ['staging', 'fail'],
    ]);
  });

  it('renders in Chromium with no console error, no outside request, and charts that drew', async () => {
    const file = join(dir, 'report.html');
    await writeFile(file, renderReportHtml(record));
    await writeFile(join(dir, 'record.json'), JSON.stringify(record, null, 2));
    const page = await browser.newPage({ viewport: { width: 1280, height: 1200 } });
    const problems: string[] = [];
    const requests: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') problems.push(`${m.type()}: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
    page.on('request', (r) => requests.push(r.url()));
    await page.goto(pathToFileURL(file).href);
    await page.waitForFunction('window.tpsReport && window.tpsReport.ready === true');

    expect(problems).toEqual([]);
    expect(requests.filter((u) => !u.startsWith('file:') && !u.startsWith('data:'))).toEqual([]);

    // The charts hold the record's numbers.
    const model = reportModel(record);
    const series = (await page.evaluate(SERIES)) as { label: string; data: (number | null)[] }[][];
    expect(series[0]![0]!.data).toEqual(model.windows.map((w) => w.canary!.errorRate! * 100));
    expect(series[0]![2]!.data).toEqual(model.windows.map((w) => w.limits.errorRate! * 100));
    expect(series[1]![0]!.data).toEqual(model.windows.map((w) => w.canary!.p99Ms));
    expect(series[1]![2]!.data).toEqual([300, 300]);

    // ...and drew them: read the canvases' pixels.
    const pixels = (await page.evaluate(PIXELS)) as Record<string, CanvasPixels>;
    for (const id of ['chart-error-rate', 'chart-p99']) {
      const p = pixels[id]!;
      expect(p.width).toBeGreaterThan(300);
      expect(p.drawn).toBeGreaterThan(2000);
      expect(p.near.canary).toBeGreaterThan(100); // the canary line and points
      expect(p.near.stable).toBeGreaterThan(50);
      expect(p.near.red).toBeGreaterThan(50); // limit line and rollback marker
    }
    expect(pixels['chart-weight']!.near.green).toBeGreaterThan(100);

    // The rollback marker: a red vertical line at the staging window, in the chart area.
    const marker = (await page.evaluate(MARKER_COLUMN)) as { red: number; height: number };
    // A dashed line: about half of the column is red.
    expect(marker.red).toBeGreaterThan(marker.height * 0.3);

    const text = (await page.locator('body').textContent()) ?? '';
    expect(text).toContain('ROLLED_BACK');
    expect(text).toContain('Rolled back at staging');
    expect(text).toMatch(/staging \(50%\)\s*fail\s*rollback/);
    expect(await page.locator('section.window').count()).toBe(2);
    expect(await page.locator('section.window.rolled-back').count()).toBe(1);
    expect(await page.locator('table.checks tbody tr').count()).toBe(
      record.phases.flatMap((p) => p.decisions).reduce((n, d) => n + d.checks.length, 0),
    );

    const shot = join(dir, 'report-screenshot.png');
    await page.screenshot({ path: shot, clip: { x: 0, y: 0, width: 1280, height: 1200 } });
    await page.screenshot({ path: join(dir, 'report-full.png'), fullPage: true });
    if (process.env.TPS_UPDATE_SCREENSHOT === '1') {
      await copyFile(shot, join(ROOT, 'docs/report-screenshot.png'));
    }
    await page.close();
  });
});
