// One Embedded Metric Format line per request (or batch) on standard output, which the
// CloudWatch agent (or Lambda) turns into metrics. The names are the sample catalog's `api`
// service (tps.config.ts): namespace Shop/Api, dimension Service=api, version dimension Version.
// No dependencies. Run: TPS_RELEASE_VERSION=v2.1.0 node emf.mjs

// tps-deploy sets TPS_RELEASE_VERSION in the pods it releases; IMAGE_TAG is baked in at build time
// for pods it has not released yet. An empty value (a downward API field that is not set) counts
// as unset: CloudWatch refuses an empty dimension value.
const version = process.env.TPS_RELEASE_VERSION || process.env.IMAGE_TAG || 'unknown';

function recordRequest({ latencyMs, failed }) {
  console.log(
    JSON.stringify({
      _aws: {
        Timestamp: Date.now(),
        CloudWatchMetrics: [
          {
            Namespace: 'Shop/Api',
            // The service alone (the alarms), and the service with the version (validation).
            Dimensions: [['Service'], ['Service', 'Version']],
            Metrics: [
              { Name: 'RequestCount', Unit: 'Count' },
              { Name: 'ErrorCount', Unit: 'Count' },
              { Name: 'Latency', Unit: 'Milliseconds' },
            ],
          },
        ],
      },
      Service: 'api',
      Version: version,
      RequestCount: 1,
      ErrorCount: failed ? 1 : 0,
      Latency: latencyMs,
    }),
  );
}

recordRequest({ latencyMs: 42, failed: false });
recordRequest({ latencyMs: 180, failed: true });
