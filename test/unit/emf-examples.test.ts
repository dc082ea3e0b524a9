/**
 * The metric-publishing examples of docs/onboarding.md ("Tagging metrics with the version"), run
 * as they are: docs/examples/metrics/emf.mjs with node, emf.py with python3 (standard library),
 * Emf.java with javac and java (no dependencies). Each line they print must be valid Embedded
 * Metric Format (test/helpers/emf.ts) and the metrics it publishes must be exactly those tps-deploy
 * reads for the sample catalog's `api` service: the validation windows' queries for the version
 * in TPS_RELEASE_VERSION (buildWindowRequest, the request CloudWatchMetricsSource sends) and the
 * rollback alarms on requests, errors and latency (the ServiceAlarms construct, synthesized). A
 * renamed metric, namespace or dimension in either the examples or the catalog fails here.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import {
  buildWindowRequest,
  type CloudWatchMetricsConfig,
} from '../../functions/adapters/aws/cloudwatch-metrics.js';
import { alarmName } from '../../functions/domain/alarms.js';
import { parseCatalog, type ServiceConfig } from '../../functions/domain/config.js';
import { ServiceAlarms } from '../../infra/constructs/service-alarms.js';
import sample from '../../tps.config.js';
import { metricId, readEmf } from '../helpers/emf.js';

const DIR = fileURLToPath(new URL('../../docs/examples/metrics/', import.meta.url));
const catalog = parseCatalog(sample);
const svc = catalog.services.api!;
const cfg = svc.metrics as CloudWatchMetricsConfig;
const RELEASED = 'v2.1.0';

/** What the validation windows query for `version` (canary track: the version dimension set). */
function validationMetrics(service: ServiceConfig, version: string): string[] {
  const end = new Date('2026-12-06T10:10:00Z');
  const request = buildWindowRequest(service, {
    service: 'api',
    start: new Date(end.getTime() - 600_000),
    end,
    canaryVersion: version,
    stableVersion: 'v2.0.0',
  });
  return request.queries
    .filter((q) => {
      const meaning = request.meanings.get(q.Id!)!;
      // Container Insights (CPU, memory, disk) comes from the cluster, not from the service.
      return meaning.track === 'canary' && !meaning.optional;
    })
    .map((q) => {
      const m = q.MetricStat!.Metric!;
      return metricId({
        namespace: m.Namespace!,
        name: m.MetricName!,
        dimensions: Object.fromEntries((m.Dimensions ?? []).map((d) => [d.Name!, d.Value!])),
      });
    });
}

/**
 * What the rollback alarms on the service's own requests, errors and latency watch (the error
 * rate, p99 and metrics-missing alarms). The circuit breaker publishes its own metric
 * (`metrics.circuitBreaker`), and the OOM alarm reads Container Insights: neither is per request.
 */
function alarmMetrics(service: ServiceConfig): string[] {
  const stack = new Stack(new App(), 'Alarms');
  new ServiceAlarms(stack, 'Api', { appName: catalog.appName, serviceName: 'api', service });
  const alarms = Object.values(Template.fromStack(stack).findResources('AWS::CloudWatch::Alarm')).map(
    (a) => a.Properties,
  );
  type Metric = { Namespace: string; MetricName: string; Dimensions?: { Name: string; Value: string }[] };
  const id = (m: Metric) =>
    metricId({
      namespace: m.Namespace,
      name: m.MetricName,
      dimensions: Object.fromEntries((m.Dimensions ?? []).map((d) => [d.Name, d.Value])),
    });
  return (['errorRate', 'latency', 'metricsMissing'] as const).flatMap((signal) => {
    const alarm = alarms.find((a) => a.AlarmName === alarmName(catalog.appName, 'api', signal));
    if (!alarm) throw new Error(`no ${signal} alarm`);
    const metrics = alarm.Metrics as { MetricStat?: { Metric: Metric } }[] | undefined;
    return metrics
      ? metrics.filter((m) => m.MetricStat).map((m) => id(m.MetricStat!.Metric))
      : [id(alarm as unknown as Metric)];
  });
}

const unique = (ids: readonly string[]) => [...new Set(ids)].sort();
/** Everything tps-deploy reads of a service's own metrics for the released version. */
const queried = (service: ServiceConfig) =>
  unique([...validationMetrics(service, RELEASED), ...alarmMetrics(service)]);
const QUERIED = queried(svc);

let javaClasses = '';
beforeAll(() => {
  javaClasses = mkdtempSync(join(tmpdir(), 'tps-emf-java-'));
  const javac = spawnSync('javac', ['-d', javaClasses, join(DIR, 'Emf.java')], { encoding: 'utf8' });
  if (javac.status !== 0) throw new Error(`javac Emf.java failed: ${javac.stderr}`);
});
afterAll(() => rmSync(javaClasses, { recursive: true, force: true }));

const EXAMPLES = [
  { language: 'Node', file: 'emf.mjs', command: () => [process.execPath, join(DIR, 'emf.mjs')] },
  { language: 'Python', file: 'emf.py', command: () => ['python3', join(DIR, 'emf.py')] },
  { language: 'Java', file: 'Emf.java', command: () => ['java', '-cp', javaClasses, 'Emf'] },
] as const;

/** Runs an example with only `env` set of the version variables; its stdout lines. */
function run(example: (typeof EXAMPLES)[number], env: Record<string, string>): string[] {
  const { TPS_RELEASE_VERSION: _a, IMAGE_TAG: _b, ...rest } = process.env;
  const [cmd, ...args] = example.command();
  const r = spawnSync(cmd!, args, { env: { ...rest, ...env }, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${example.language} example exited ${r.status}: ${r.stderr}`);
  return r.stdout.trim().split('\n');
}

describe.each(EXAMPLES)('the $language example ($file)', (example) => {
  test("prints valid EMF publishing exactly the metrics tps-deploy queries for the sample catalog's api", () => {
    const before = Date.now();
    const lines = run(example, { TPS_RELEASE_VERSION: RELEASED, IMAGE_TAG: 'baked' });
    expect(lines).toHaveLength(2);
    const readings = lines.map((l) => readEmf(l, before));
    expect(readings.map((r) => r.problems)).toEqual([[], []]);
    const published = readings.flatMap((r) => r.metrics);
    expect(unique(published.map(metricId))).toEqual(QUERIED);
    // Each request: one count, its error (the second request failed), its latency in ms.
    const values = (name: string) =>
      published.filter((m) => m.name === name && Object.keys(m.dimensions).length === 2).map((m) => m.values);
    expect(values(cfg.requests)).toEqual([[1], [1]]);
    expect(values(cfg.errors)).toEqual([[0], [1]]);
    expect(values(cfg.latency)).toEqual([[42], [180]]);
    expect(published.find((m) => m.name === cfg.latency)?.unit).toBe('Milliseconds');
  });

  test.each([
    [
      'TPS_RELEASE_VERSION when tps-deploy set it',
      { TPS_RELEASE_VERSION: RELEASED, IMAGE_TAG: 'v2.0.9' },
      RELEASED,
    ],
    ['IMAGE_TAG in pods tps-deploy has not released', { IMAGE_TAG: 'v2.0.9' }, 'v2.0.9'],
    [
      'IMAGE_TAG when TPS_RELEASE_VERSION is empty (an unset downward API field)',
      { TPS_RELEASE_VERSION: '', IMAGE_TAG: 'v2.0.9' },
      'v2.0.9',
    ],
    ['"unknown" with neither', {}, 'unknown'],
  ])('the version dimension is %s', (_what, env, version) => {
    for (const line of run(example, env)) {
      const reading = readEmf(line);
      expect(reading.problems).toEqual([]);
      expect(JSON.parse(line)[cfg.versionDimension]).toBe(version);
    }
  });
});

describe('the checks are live', () => {
  const [line] = run(EXAMPLES[0], { TPS_RELEASE_VERSION: RELEASED });
  const doc = () => JSON.parse(line!) as Record<string, unknown> & { _aws: Record<string, unknown> };
  const directive = (d: ReturnType<typeof doc>) =>
    (d._aws.CloudWatchMetrics as Record<string, unknown>[])[0] as {
      Dimensions: string[][];
      Metrics: { Name: string; Unit?: string }[];
    };

  test.each([
    [
      'a Timestamp in seconds',
      (d: ReturnType<typeof doc>) => {
        d._aws.Timestamp = Math.floor(Date.now() / 1000);
      },
      /_aws\.Timestamp: .*\(seconds instead of milliseconds\?\)/,
    ],
    [
      'a dimension without its root member',
      (d: ReturnType<typeof doc>) => {
        delete d.Service;
      },
      /the root member "Service" must be a string/,
    ],
    [
      'an empty dimension value',
      (d: ReturnType<typeof doc>) => {
        d.Version = '';
      },
      /the root member "Version" must be a string of 1-1024 characters \(got ""\)/,
    ],
    [
      'a metric value that is a string',
      (d: ReturnType<typeof doc>) => {
        d.Latency = '42';
      },
      /the root member "Latency" must be a number/,
    ],
    [
      'an unknown unit',
      (d: ReturnType<typeof doc>) => {
        directive(d).Metrics[2]!.Unit = 'ms';
      },
      /Unit: "ms" is not a CloudWatch unit/,
    ],
    [
      'no DimensionSet',
      (d: ReturnType<typeof doc>) => {
        directive(d).Dimensions = [];
      },
      /Dimensions: must be a non-empty array/,
    ],
  ])('the EMF check refuses %s', (_what, edit, problem) => {
    const d = doc();
    edit(d);
    const reading = readEmf(JSON.stringify(d));
    expect(reading.problems.join('\n')).toMatch(problem);
    expect(reading.metrics).toEqual([]);
  });

  test('a line without the service-only DimensionSet publishes nothing the alarms watch', () => {
    const d = doc();
    directive(d).Dimensions = [['Service', 'Version']];
    const ids = unique(readEmf(JSON.stringify(d)).metrics.map(metricId));
    expect(ids).not.toEqual(QUERIED);
    expect(QUERIED.filter((q) => !ids.includes(q))).toEqual(unique(alarmMetrics(svc)));
  });

  test('a catalog whose latency metric is named otherwise no longer matches the example', () => {
    const renamed = parseCatalog({
      ...sample,
      services: { api: { ...sample.services.api!, metrics: { ...cfg, latency: 'LatencyMs' } } },
    });
    const ids = unique(readEmf(line!).metrics.map(metricId));
    expect(ids).toEqual(QUERIED);
    expect(ids).not.toEqual(queried(renamed.services.api!));
  });
});

describe('docs/onboarding.md shows and names the examples', () => {
  const doc = readFileSync(fileURLToPath(new URL('../../docs/onboarding.md', import.meta.url)), 'utf8');
  const section = doc.split('\n## ').find((s) => s.startsWith('Tagging metrics with the version'))!;

  test('the Node code in the section is emf.mjs, character for character', () => {
    const block = /```js\n([\s\S]*?)```/.exec(section)?.[1];
    expect(block).toBe(readFileSync(join(DIR, 'emf.mjs'), 'utf8'));
  });

  test('the section links each example file', () => {
    for (const { file } of EXAMPLES) expect(section).toContain(`(examples/metrics/${file})`);
  });
});
