"""One Embedded Metric Format line per request (or batch) on standard output, which the
CloudWatch agent (or Lambda) turns into metrics. The names are the sample catalog's `api`
service (tps.config.ts): namespace Shop/Api, dimension Service=api, version dimension Version.
Standard library only. Run: TPS_RELEASE_VERSION=v2.1.0 python3 emf.py
"""

import json
import os
import time

# tps-deploy sets TPS_RELEASE_VERSION in the pods it releases; IMAGE_TAG is baked in at build time
# for pods it has not released yet. An empty value (a downward API field that is not set) counts
# as unset: CloudWatch refuses an empty dimension value.
VERSION = os.environ.get("TPS_RELEASE_VERSION") or os.environ.get("IMAGE_TAG") or "unknown"


def record_request(latency_ms: float, failed: bool) -> None:
    print(
        json.dumps(
            {
                "_aws": {
                    "Timestamp": int(time.time() * 1000),
                    "CloudWatchMetrics": [
                        {
                            "Namespace": "Shop/Api",
                            # The service alone (the alarms), and the service with the version (validation).
                            "Dimensions": [["Service"], ["Service", "Version"]],
                            "Metrics": [
                                {"Name": "RequestCount", "Unit": "Count"},
                                {"Name": "ErrorCount", "Unit": "Count"},
                                {"Name": "Latency", "Unit": "Milliseconds"},
                            ],
                        }
                    ],
                },
                "Service": "api",
                "Version": VERSION,
                "RequestCount": 1,
                "ErrorCount": 1 if failed else 0,
                "Latency": latency_ms,
            },
            separators=(",", ":"),
        ),
        flush=True,
    )


if __name__ == "__main__":
    record_request(42, failed=False)
    record_request(180, failed=True)
