import { type CloudWatchClient, type MetricDatum, PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { metricDocuments, RELEASE_METRICS, type ReleaseEvent } from '../../domain/release-metrics.js';
import type { ReleaseTelemetry } from '../../ports/telemetry.js';
import { describeError } from './errors.js';

/** Where the release metrics go from outside Lambda. */
export interface CloudWatchReleaseTelemetryProps {
  readonly client: CloudWatchClient;
  /** Told when the metrics could not be written (the step goes on). */
  readonly onError?: (message: string) => void;
}

/**
 * The release metrics through PutMetricData, for runtimes whose standard output is not a Lambda log
 * stream (the CLI, whose `abort` and `rollback` are the `person` rollbacks): the same documents,
 * namespace, names and dimensions as the functions' Embedded Metric Format. Never throws: a failed
 * PutMetricData (no `cloudwatch:PutMetricData` permission, no network) is reported to `onError`.
 */
export class CloudWatchReleaseTelemetry implements ReleaseTelemetry {
  constructor(private readonly props: CloudWatchReleaseTelemetryProps) {}

  async record(event: ReleaseEvent): Promise<void> {
    const now = new Date();
    const data: MetricDatum[] = metricDocuments(event).flatMap((doc) =>
      doc.metrics.map((m) => ({
        MetricName: m.name,
        Unit: m.unit,
        Value: m.value,
        Timestamp: now,
        Dimensions: Object.entries(doc.dimensions).map(([Name, Value]) => ({ Name, Value })),
      })),
    );
    try {
      await this.props.client.send(
        new PutMetricDataCommand({ Namespace: RELEASE_METRICS.namespace, MetricData: data }),
      );
    } catch (e) {
      this.props.onError?.(`release metrics not written: ${describeError(e)}`);
    }
  }
}
