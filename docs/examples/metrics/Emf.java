/*
 * One Embedded Metric Format line per request (or batch) on standard output, which the
 * CloudWatch agent (or Lambda) turns into metrics. The names are the sample catalog's `api`
 * service (tps.config.ts): namespace Shop/Api, dimension Service=api, version dimension Version.
 * No dependencies. Run: javac Emf.java && TPS_RELEASE_VERSION=v2.1.0 java Emf
 */
public final class Emf {
  /**
   * tps-deploy sets TPS_RELEASE_VERSION in the pods it releases; IMAGE_TAG is baked in at build
   * time for pods it has not released yet. An empty value (a downward API field that is not set)
   * counts as unset: CloudWatch refuses an empty dimension value.
   */
  static final String VERSION = firstSet(System.getenv("TPS_RELEASE_VERSION"), System.getenv("IMAGE_TAG"), "unknown");

  static void recordRequest(double latencyMs, boolean failed) {
    String line = "{\"_aws\":{\"Timestamp\":" + System.currentTimeMillis()
        + ",\"CloudWatchMetrics\":[{\"Namespace\":\"Shop/Api\""
        // The service alone (the alarms), and the service with the version (validation).
        + ",\"Dimensions\":[[\"Service\"],[\"Service\",\"Version\"]]"
        + ",\"Metrics\":[{\"Name\":\"RequestCount\",\"Unit\":\"Count\"},"
        + "{\"Name\":\"ErrorCount\",\"Unit\":\"Count\"},"
        + "{\"Name\":\"Latency\",\"Unit\":\"Milliseconds\"}]}]}"
        + ",\"Service\":\"api\""
        + ",\"Version\":" + quote(VERSION)
        + ",\"RequestCount\":1"
        + ",\"ErrorCount\":" + (failed ? 1 : 0)
        + ",\"Latency\":" + latencyMs
        + "}";
    System.out.println(line);
  }

  static String firstSet(String... values) {
    for (String v : values) {
      if (v != null && !v.isEmpty()) return v;
    }
    return null;
  }

  /** A JSON string literal. */
  static String quote(String s) {
    StringBuilder b = new StringBuilder("\"");
    for (char c : s.toCharArray()) {
      if (c == '"' || c == '\\') b.append('\\').append(c);
      else if (c < 0x20) b.append(String.format("\\u%04x", (int) c));
      else b.append(c);
    }
    return b.append('"').toString();
  }

  public static void main(String[] args) {
    recordRequest(42, false);
    recordRequest(180, true);
  }
}
