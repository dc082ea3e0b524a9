/**
 * Embedded Metric Format documents as CloudWatch reads them: a structural check against the EMF
 * specification (CloudWatch user guide, "Specification: Embedded metric format") and the metrics
 * one document publishes. No library in the project parses EMF (Powertools only writes it); its
 * unit and resolution lists are used here as the valid values.
 *
 * Checked: the line is one JSON object; `_aws.Timestamp` is an integer of epoch milliseconds
 * CloudWatch accepts (at most 14 days old, at most 2 hours ahead); `_aws.CloudWatchMetrics` is a
 * non-empty array of MetricDirectives, each with a `Namespace` (1-255 characters), `Dimensions`
 * (at least one DimensionSet, each an array of at most 30 keys, each key a root member whose value
 * is a string of 1-1024 characters) and `Metrics` (at most 100 MetricDefinitions, each a `Name`
 * of 1-255 characters naming a root member that is a number or an array of at most 100 numbers,
 * an optional `Unit` among CloudWatch's units and an optional `StorageResolution` of 1 or 60).
 */
import { MetricResolution, MetricUnit } from '@aws-lambda-powertools/metrics';

/** One metric a document publishes: its identity in CloudWatch and the values it adds. */
export interface EmfMetric {
  readonly namespace: string;
  readonly name: string;
  readonly dimensions: Readonly<Record<string, string>>;
  readonly values: readonly number[];
  readonly unit: string | null;
}

/** The outcome of reading one line. */
export interface EmfReading {
  /** Every way the line breaks the specification (empty: valid). */
  readonly problems: readonly string[];
  /** The metrics it publishes (one per metric per DimensionSet); empty when it is not valid. */
  readonly metrics: readonly EmfMetric[];
}

/** CloudWatch refuses data points more than two weeks old or more than two hours ahead. */
const MAX_AGE_MS = 14 * 24 * 3600 * 1000;
const MAX_AHEAD_MS = 2 * 3600 * 1000;
/** The specification's limits (30 dimension keys per set, as Powertools enforces). */
const MAX_DIMENSION_KEYS = 30;
const MAX_METRICS = 100;
const MAX_VALUES = 100;
const UNITS = new Set<string>(Object.values(MetricUnit));
const RESOLUTIONS = new Set<number>(Object.values(MetricResolution));

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
const isName = (v: unknown): v is string => typeof v === 'string' && v.length >= 1 && v.length <= 255;

/** Reads one line as CloudWatch Logs would, at time `now` (epoch ms). */
export function readEmf(line: string, now: number = Date.now()): EmfReading {
  const problems: string[] = [];
  let root: unknown;
  try {
    root = JSON.parse(line);
  } catch (e) {
    return { problems: [`not one JSON value: ${(e as Error).message}`], metrics: [] };
  }
  if (!isObject(root)) return { problems: ['the root is not a JSON object'], metrics: [] };
  const aws = root._aws;
  if (!isObject(aws)) return { problems: ['_aws: missing or not an object'], metrics: [] };
  const ts = aws.Timestamp;
  if (typeof ts !== 'number' || !Number.isInteger(ts)) {
    problems.push('_aws.Timestamp: must be an integer (epoch milliseconds)');
  } else if (ts < now - MAX_AGE_MS || ts > now + MAX_AHEAD_MS) {
    problems.push(
      `_aws.Timestamp: ${ts} is not within 14 days before to 2 hours after ${now} (seconds instead of milliseconds?)`,
    );
  }
  const directives = aws.CloudWatchMetrics;
  if (!Array.isArray(directives) || directives.length === 0) {
    problems.push('_aws.CloudWatchMetrics: must be a non-empty array of MetricDirectives');
    return { problems, metrics: [] };
  }
  const metrics: EmfMetric[] = [];
  directives.forEach((d, i) => {
    const at = `_aws.CloudWatchMetrics[${i}]`;
    if (!isObject(d)) {
      problems.push(`${at}: not an object`);
      return;
    }
    if (!isName(d.Namespace)) problems.push(`${at}.Namespace: must be a string of 1-255 characters`);
    const sets: string[][] = [];
    if (!Array.isArray(d.Dimensions) || d.Dimensions.length === 0) {
      problems.push(`${at}.Dimensions: must be a non-empty array of DimensionSets`);
    } else {
      d.Dimensions.forEach((set: unknown, j: number) => {
        if (!Array.isArray(set) || set.length > MAX_DIMENSION_KEYS) {
          problems.push(`${at}.Dimensions[${j}]: must be an array of at most ${MAX_DIMENSION_KEYS} keys`);
          return;
        }
        for (const key of set) {
          const value = typeof key === 'string' ? root[key] : undefined;
          if (typeof key !== 'string')
            problems.push(`${at}.Dimensions[${j}]: ${JSON.stringify(key)} is not a string`);
          else if (typeof value !== 'string' || value.length < 1 || value.length > 1024)
            problems.push(
              `${at}.Dimensions[${j}]: the root member "${key}" must be a string of 1-1024 characters (got ${JSON.stringify(value)})`,
            );
        }
        sets.push(set as string[]);
      });
    }
    if (!Array.isArray(d.Metrics) || d.Metrics.length > MAX_METRICS) {
      problems.push(`${at}.Metrics: must be an array of at most ${MAX_METRICS} MetricDefinitions`);
      return;
    }
    d.Metrics.forEach((m: unknown, k: number) => {
      const where = `${at}.Metrics[${k}]`;
      if (!isObject(m) || !isName(m.Name)) {
        problems.push(`${where}.Name: must be a string of 1-255 characters`);
        return;
      }
      if (m.Unit !== undefined && !(typeof m.Unit === 'string' && UNITS.has(m.Unit)))
        problems.push(`${where}.Unit: ${JSON.stringify(m.Unit)} is not a CloudWatch unit`);
      if (m.StorageResolution !== undefined && !RESOLUTIONS.has(m.StorageResolution as number))
        problems.push(`${where}.StorageResolution: must be 1 or 60`);
      const target = root[m.Name];
      const values = typeof target === 'number' ? [target] : Array.isArray(target) ? target : null;
      if (
        !values ||
        values.length === 0 ||
        values.length > MAX_VALUES ||
        !values.every((v) => typeof v === 'number' && Number.isFinite(v))
      ) {
        problems.push(
          `${where}: the root member "${m.Name}" must be a number or an array of 1-${MAX_VALUES} numbers`,
        );
        return;
      }
      for (const set of sets) {
        metrics.push({
          namespace: d.Namespace as string,
          name: m.Name,
          dimensions: Object.fromEntries(set.map((key) => [key, root[key] as string])),
          values: values as number[],
          unit: typeof m.Unit === 'string' ? m.Unit : null,
        });
      }
    });
  });
  return problems.length > 0 ? { problems, metrics: [] } : { problems, metrics };
}

/** A metric's identity as one string: `Namespace/Name{Key=Value,...}`, keys sorted. */
export function metricId(m: {
  namespace: string;
  name: string;
  dimensions: Readonly<Record<string, string>>;
}): string {
  const dims = Object.entries(m.dimensions)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
  return `${m.namespace}/${m.name}{${dims}}`;
}
