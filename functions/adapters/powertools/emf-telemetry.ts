import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import {
  type MetricDatum,
  metricDocuments,
  RELEASE_METRICS,
  type ReleaseEvent,
} from '../../domain/release-metrics.js';
import type { ReleaseTelemetry } from '../../ports/telemetry.js';
import { type LineSink, stdoutLines } from './output.js';

const UNITS: Readonly<Record<MetricDatum['unit'], (typeof MetricUnit)[keyof typeof MetricUnit]>> = {
  Count: MetricUnit.Count,
  Seconds: MetricUnit.Seconds,
};

/**
 * The release metrics as CloudWatch Embedded Metric Format documents (Powertools Metrics), one
 * document per set of dimensions, written the moment the event happens rather than at the end of
 * the invocation: nothing is left to flush when a step throws or the Lambda times out afterwards,
 * and the local runner, which has no end of invocation, writes exactly what Lambda writes.
 *
 * Each document is built and serialized synchronously, so steps running at once in one process
 * (the local runner) cannot mix their dimensions in the shared Metrics instance.
 */
export class EmfReleaseTelemetry implements ReleaseTelemetry {
  private readonly metrics = new Metrics({ namespace: RELEASE_METRICS.namespace });

  /** @param write where the documents go. @default standard output (Lambda) */
  constructor(private readonly write: LineSink = stdoutLines) {
    // Powertools puts `service` = POWERTOOLS_SERVICE_NAME (the app) on every metric; here `service`
    // is the release's, set per document.
    this.metrics.clearDefaultDimensions();
  }

  async record(event: ReleaseEvent): Promise<void> {
    for (const doc of metricDocuments(event)) {
      const m = this.metrics;
      try {
        m.addDimensions({ ...doc.dimensions });
        for (const [k, v] of Object.entries(doc.metadata)) m.addMetadata(k, v);
        for (const datum of doc.metrics) m.addMetric(datum.name, UNITS[datum.unit], datum.value);
        this.write(JSON.stringify(m.serializeMetrics()));
      } catch (e) {
        // The port never throws; the loss is said in the same stream, in the log lines' shape.
        this.write(
          JSON.stringify({
            level: 'WARN',
            message: 'release metrics not written',
            service: event.service,
            deploymentId: event.deploymentId,
            error: e instanceof Error ? `${e.name}: ${e.message}` : String(e),
          }),
        );
      } finally {
        m.clearMetrics();
        m.clearDimensions();
        m.clearMetadata();
      }
    }
  }
}
