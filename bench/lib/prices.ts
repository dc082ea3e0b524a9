/**
 * AWS list prices in us-east-1 that a release pays, with where each comes from. Written into
 * cost.json next to the counts, so the arithmetic can be checked and redone when prices change.
 */
export const PRICES = {
  stepFunctionsStandardPerTransition: {
    usd: 0.025 / 1000,
    unit: 'state transition',
    source: 'AWS Step Functions pricing, Standard workflows: $0.025 per 1,000 state transitions (us-east-1)',
  },
  lambdaArmPerGbSecond: {
    usd: 0.0000133334,
    unit: 'GB-second (arm64)',
    source:
      'AWS Lambda pricing, Arm price, first 7.5 billion GB-s/month: $0.0000133334 per GB-second (us-east-1)',
  },
  lambdaPerRequest: {
    usd: 0.2 / 1_000_000,
    unit: 'request',
    source: 'AWS Lambda pricing: $0.20 per 1M requests',
  },
  getMetricDataPerMetric: {
    usd: 0.01 / 1000,
    unit: 'metric requested',
    source: 'Amazon CloudWatch pricing, API requests: GetMetricData $0.01 per 1,000 metrics requested',
  },
  alarmStandardPerMetricMonth: {
    usd: 0.1,
    unit: 'standard-resolution alarm metric per month',
    source:
      'Amazon CloudWatch pricing, alarms: $0.10 per standard resolution (60 s) alarm metric per month; a metric math alarm is billed per metric in its expression',
  },
  alarmHighResPerMetricMonth: {
    usd: 0.3,
    unit: 'high-resolution alarm metric per month',
    source: 'Amazon CloudWatch pricing, alarms: $0.30 per high resolution (10 s) alarm metric per month',
  },
  dynamoDbOnDemandPerWriteUnit: {
    usd: 0.625 / 1_000_000,
    unit: 'write request unit',
    source: 'Amazon DynamoDB pricing, on-demand: $0.625 per million write request units (us-east-1)',
  },
  dynamoDbOnDemandPerReadUnit: {
    usd: 0.125 / 1_000_000,
    unit: 'read request unit',
    source: 'Amazon DynamoDB pricing, on-demand: $0.125 per million read request units (us-east-1)',
  },
  snsPerPublish: {
    usd: 0.5 / 1_000_000,
    unit: 'publish (64 KB chunk)',
    source: 'Amazon SNS pricing: $0.50 per 1 million requests (publishes) for standard topics',
  },
  // Not in the brief's list: shown apart, as estimates.
  xrayPerTrace: {
    usd: 5 / 1_000_000,
    unit: 'trace recorded',
    source: 'AWS X-Ray pricing: $5.00 per 1 million traces recorded (after the free tier of 100,000/month)',
  },
  logsPerGbIngested: {
    usd: 0.5,
    unit: 'GB ingested',
    source:
      'Amazon CloudWatch pricing, logs: $0.50 per GB ingested (standard class; vended logs start at the same rate)',
  },
} as const;

/** Hours in the month CloudWatch prorates alarms over (730 = 365 x 24 / 12). */
export const HOURS_PER_MONTH = 730;
